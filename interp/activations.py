"""Streaming activation collection: the ONE place that runs a model over many texts with hooks.

:func:`collect_activations` runs a ``HookedTransformer`` over token ids in batches. A capture hook
on each requested hook point hands that batch's activation straight to a :class:`Reducer`
(a mean over positions, the last real token, a running sum, ...), so nothing is cached: at any
moment only one hook's activation of one batch is alive, and reducers that keep no per-text rows
(:class:`RunningSum`, :class:`MeanOverTokens`, :class:`MeanOverTexts`) use the same memory for
ten texts as for a million. The forward pass stops after the deepest requested block
(``stop_at_layer``) and never computes logits unless an ``unembed`` hook is asked for.

Masks: every reducer sees a boolean ``mask`` of shape (batch, pos) that is ``True`` only on the
positions it should use: real tokens (never padding), optionally restricted by a per-text
``position_mask`` (e.g. the response tokens of a chat), optionally without the first real token
(``keep_first_position=False``; SmolLM2 and GPT-2 put "massive activations" on position 0).

Results are float32 tensors on CPU, whatever the model's device and dtype.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp.hooks import check_hook_names, layer_of, temporary_hooks
from interp.layout import inference_layout
from interp.models import Tokenized, chat_prompt, chat_sequence, tokenize

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

logger = logging.getLogger(__name__)

__all__ = [
    "AllPositions",
    "ChatTokens",
    "LastToken",
    "MeanOverPositions",
    "MeanOverTexts",
    "MeanOverTokens",
    "PositionSelect",
    "REDUCERS",
    "Reducer",
    "RunningSum",
    "collect_activations",
    "collect_from_texts",
    "tokenize_chat",
]

_EMBED_HOOKS = frozenset({"hook_embed", "hook_pos_embed", "hook_tokens"})
#: Hook points whose dimension 1 is not the token position: reducers cannot pool them.
_NOT_POSITIONAL = ("hook_attn_scores", "hook_pattern")


# ---------------------------------------------------------------------------------------------
# reducers
# ---------------------------------------------------------------------------------------------


class Reducer:
    """Base class: receives one batch of one hook's activations at a time and reduces them.

    :func:`collect_activations` calls, per hook and per call:

    1. ``start(n_texts, n_pos)`` once (this also clears any previous state), then for each batch
    2. ``window(rows, cols)``: which texts (``rows``, LongTensor of text indices into the input)
       and which token columns of the input (``cols``, a slice) the next batch holds;
    3. ``update(acts, mask)`` from inside the forward pass, with ``acts`` of shape
       (batch, pos, ...) in the model's dtype and device, and ``mask`` a BoolTensor (batch, pos)
       of the positions to use;
    4. ``result()`` at the end: a float32 CPU tensor.

    Subclasses keep only what they need; they must not keep references to ``acts``.
    """

    #: ``True`` when ``result()`` has one row per text.
    per_text: ClassVar[bool] = False

    def start(self, n_texts: int, n_pos: int) -> None:
        """Clear the state before a run over ``n_texts`` texts padded to ``n_pos`` positions."""
        self._n_texts = n_texts
        self._n_pos = n_pos
        self._rows: Tensor = torch.empty(0, dtype=torch.long)
        self._cols = slice(0, n_pos)

    def window(self, rows: Int[Tensor, " batch"], cols: slice) -> None:
        """Record which texts and token columns the next :meth:`update` covers."""
        self._rows, self._cols = rows, cols

    def update(self, acts: Float[Tensor, "batch pos ..."], mask: Bool[Tensor, "batch pos"]) -> None:
        raise NotImplementedError

    def result(self) -> Tensor:
        raise NotImplementedError

    def _check_rows_have_positions(self, counts: Tensor) -> None:
        empty = (counts == 0).nonzero().flatten()
        if len(empty):
            text = int(self._rows[int(empty[0])])
            raise ValueError(
                f"{type(self).__name__}: text #{text} has no selected positions (all padding, "
                "excluded by position_mask, or only one token with keep_first_position=False)"
            )


def _masked(acts: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """float32 activations with unselected positions zeroed, and the mask broadcastable to them."""
    m = mask.to(device=acts.device, dtype=torch.float32)
    m = m.reshape(*m.shape, *([1] * (acts.dim() - 2)))
    return acts.float() * m, m


class _PerText(Reducer):
    """Shared bookkeeping of reducers that return one row per text.

    The (n_texts, ...) output is allocated once, at the first batch, and filled in place: no
    small per-batch tensors stay alive between the forward passes' large transient ones (that
    interleaving fragments the CPU heap and made resident memory grow far beyond the result).
    """

    per_text = True

    def start(self, n_texts: int, n_pos: int) -> None:
        super().start(n_texts, n_pos)
        self._out: Tensor | None = None

    def _keep(self, values: Tensor, *, cols: slice | None = None) -> None:
        values = values.detach()
        if self._out is None:
            shape = values.shape[1:] if cols is None else (self._n_pos, *values.shape[2:])
            self._out = torch.zeros((self._n_texts, *shape), dtype=torch.float32)
        rows = self._rows.to(self._out.device)
        if cols is None:
            self._out[rows] = values.to(device="cpu", dtype=torch.float32)
        else:
            self._out[rows, cols] = values.to(device="cpu", dtype=torch.float32)

    def result(self) -> Float[Tensor, "n_texts ..."]:
        if self._out is None:
            raise RuntimeError(f"{type(self).__name__}.result() called before any update")
        return self._out


class MeanOverPositions(_PerText):
    """Masked mean over positions, per text: result of shape (n_texts, d)."""

    def update(self, acts: Tensor, mask: Tensor) -> None:
        x, m = _masked(acts, mask)
        counts = m.sum(dim=1)
        self._check_rows_have_positions(counts.flatten(1)[:, 0])
        self._keep(x.sum(dim=1) / counts)


class LastToken(_PerText):
    """Activation at the last selected position of each text: result of shape (n_texts, d).

    With left padding and no position mask this is the last real token (e.g. the end-of-turn
    token of a chat sequence).
    """

    def update(self, acts: Tensor, mask: Tensor) -> None:
        mask = mask.to(acts.device)
        self._check_rows_have_positions(mask.sum(dim=1))
        pos = torch.arange(mask.shape[1], device=acts.device)
        last = torch.where(mask, pos, -1).max(dim=1).values
        self._keep(acts[torch.arange(acts.shape[0], device=acts.device), last])


class PositionSelect(MeanOverPositions):
    """Mean over a given subset of positions per text: result of shape (n_texts, d).

    Parameters
    ----------
    positions : BoolTensor of shape (n_texts, pos)
        ``True`` on the positions to average, in the same padded layout as the tokens passed to
        :func:`collect_activations` (e.g. ``ChatTokens.response_mask`` from
        :func:`tokenize_chat`). Padding is never used even where ``positions`` is ``True``.
    """

    def __init__(self, positions: Bool[Tensor, "n_texts pos"]) -> None:
        if not isinstance(positions, Tensor) or positions.dim() != 2:
            raise ValueError("PositionSelect: positions must be a 2-D BoolTensor (n_texts, pos)")
        self.positions = positions.bool().cpu()

    def start(self, n_texts: int, n_pos: int) -> None:
        if tuple(self.positions.shape) != (n_texts, n_pos):
            raise ValueError(
                f"PositionSelect: positions has shape {tuple(self.positions.shape)} but the tokens "
                f"have shape ({n_texts}, {n_pos}); build both from the same tokenisation"
            )
        super().start(n_texts, n_pos)

    def update(self, acts: Tensor, mask: Tensor) -> None:
        own = self.positions[self._rows][:, self._cols].to(mask.device)
        super().update(acts, mask & own)


class RunningSum(Reducer):
    """Sum over every selected token of every text: result of shape (d,); memory is flat.

    Accumulates in float64 on CPU. ``count`` holds the number of tokens summed.
    """

    def start(self, n_texts: int, n_pos: int) -> None:
        super().start(n_texts, n_pos)
        self._sum: Tensor | None = None
        self.count = 0

    def _add(self, values: Tensor, n: int) -> None:
        values = values.detach().double().cpu()
        self._sum = values if self._sum is None else self._sum + values
        self.count += n

    def update(self, acts: Tensor, mask: Tensor) -> None:
        x, _ = _masked(acts, mask)
        self._add(x.sum(dim=(0, 1)), int(mask.sum()))

    def result(self) -> Float[Tensor, " d"]:
        if self._sum is None:
            raise RuntimeError(f"{type(self).__name__}.result() called before any update")
        return self._sum.float()


class MeanOverTokens(RunningSum):
    """Mean over every selected token of every text (long texts weigh more): shape (d,)."""

    def result(self) -> Float[Tensor, " d"]:
        super().result()
        if self.count == 0:
            raise ValueError("MeanOverTokens: no positions were selected in any text")
        return (self._sum / self.count).float()  # type: ignore[operator]


class MeanOverTexts(RunningSum):
    """Mean over texts of each text's masked mean over positions: shape (d,); memory is flat.

    ``count`` holds the number of texts.
    """

    def update(self, acts: Tensor, mask: Tensor) -> None:
        x, m = _masked(acts, mask)
        counts = m.sum(dim=1)
        self._check_rows_have_positions(counts.flatten(1)[:, 0])
        self._add((x.sum(dim=1) / counts).sum(dim=0), acts.shape[0])

    def result(self) -> Float[Tensor, " d"]:
        super().result()
        return (self._sum / self.count).float()  # type: ignore[operator]


class AllPositions(_PerText):
    """Every position of every text, in the input's padded layout: shape (n_texts, pos, d).

    Unselected positions (padding, unless the mask says otherwise) are zero. Memory grows with
    ``n_texts * pos``: for a handful of texts (e.g. the two responses of one DINM record).
    """

    def update(self, acts: Tensor, mask: Tensor) -> None:
        x, _ = _masked(acts, mask)
        self._keep(x, cols=self._cols)


#: Names accepted by ``reducer=``.
REDUCERS: dict[str, type[Reducer]] = {
    "mean": MeanOverPositions,
    "last": LastToken,
    "sum": RunningSum,
    "mean_tokens": MeanOverTokens,
    "mean_texts": MeanOverTexts,
    "all": AllPositions,
}

ReducerSpec = str | Reducer | type[Reducer]


def _make_reducer(spec: ReducerSpec, hook: str) -> Reducer:
    if isinstance(spec, str):
        if spec not in REDUCERS:
            raise ValueError(f"unknown reducer {spec!r} for hook {hook!r}; valid: {sorted(REDUCERS)}")
        return REDUCERS[spec]()
    if isinstance(spec, type) and issubclass(spec, Reducer):
        return spec()
    if isinstance(spec, Reducer):
        return copy.deepcopy(spec)
    raise TypeError(
        f"reducer for hook {hook!r} must be one of {sorted(REDUCERS)}, a Reducer or a Reducer "
        f"subclass, got {type(spec).__name__}"
    )


def _resolve_reducers(
    hook_names: Sequence[str] | str | None, reducer: ReducerSpec | Mapping[str, ReducerSpec]
) -> dict[str, Reducer]:
    if isinstance(hook_names, str):
        hook_names = [hook_names]
    if isinstance(reducer, Mapping):
        if hook_names is not None and set(hook_names) != set(reducer):
            raise ValueError(
                f"reducer is a dict over hooks {sorted(reducer)} but hook_names is "
                f"{sorted(hook_names)}; pass hook_names=None or the same names"
            )
        if not reducer:
            raise ValueError("reducer is an empty dict; name at least one hook")
        out: dict[str, Reducer] = {}
        for name, spec in reducer.items():  # instances in a dict are used as given
            out[name] = spec if isinstance(spec, Reducer) else _make_reducer(spec, name)
        if len({id(r) for r in out.values()}) != len(out):
            raise ValueError("the same Reducer instance appears for two hooks; give each its own")
        return out
    if hook_names is None:
        raise ValueError("hook_names is required unless reducer is a dict {hook_name: reducer}")
    names = list(dict.fromkeys(hook_names))
    if not names:
        raise ValueError("hook_names is empty; name at least one hook, e.g. 'blocks.0.hook_resid_post'")
    return {name: _make_reducer(reducer, name) for name in names}


# ---------------------------------------------------------------------------------------------
# the streaming core
# ---------------------------------------------------------------------------------------------


def _block_index(name: str) -> int | None:
    try:
        return layer_of(name)
    except ValueError:
        return None


def _forward_plan(names: Sequence[str]) -> tuple[int | None, str | None]:
    """``(stop_at_layer, return_type)`` running no more of the model than ``names`` need."""
    layers = [_block_index(n) for n in names]
    if all(layer is not None for layer in layers):
        return max(layers) + 1, None  # type: ignore[type-var]
    if all(n in _EMBED_HOOKS or layer is not None for n, layer in zip(names, layers)):
        blocks = [layer for layer in layers if layer is not None]
        return (max(blocks) + 1 if blocks else 0), None
    if any(n.startswith("unembed.") for n in names):
        return None, "logits"
    return None, None  # the whole model incl. ln_final, but no unembedding


def _model_device(model: HookedTransformer, device: str | torch.device | None) -> torch.device:
    try:
        here = next(model.parameters()).device
    except StopIteration:  # pragma: no cover - a model without parameters
        here = torch.device(model.cfg.device or "cpu")
    if device is None:
        return here
    want = torch.device(device)
    if want.type != here.type or (want.index is not None and here.index is not None
                                  and want.index != here.index):
        raise ValueError(
            f"device={str(want)!r} but the model is on {str(here)!r}; move the model first "
            f"(model.to({str(want)!r})) - detox-interp never moves a model it was given"
        )
    return here


#: Trimmed batch widths are rounded up to a multiple of this: fewer distinct tensor sizes keep
#: the CPU heap from fragmenting (resident memory otherwise creeps up with the number of batches).
_WIDTH_STEP = 16


def _trimmed_columns(mask: Tensor) -> slice:
    """Columns of a (batch, pos) mask that hold a real token in some row, widened to _WIDTH_STEP."""
    used = mask.any(dim=0).nonzero().flatten()
    first, last = int(used[0]), int(used[-1]) + 1
    width = min(-(-(last - first) // _WIDTH_STEP) * _WIDTH_STEP, mask.shape[1])
    start = max(0, last - width)  # widen over padding to the left, else to the right
    return slice(start, start + width)


def _first_real(mask: Tensor) -> Tensor:
    """Index of the first real token per row of a (batch, pos) 0/1 mask."""
    return mask.int().argmax(dim=1)


@torch.inference_mode()
def collect_activations(
    model: HookedTransformer,
    tokens: Int[Tensor, "n_texts pos"] | Tokenized,
    *,
    hook_names: Sequence[str] | str | None = None,
    reducer: ReducerSpec | Mapping[str, ReducerSpec] = "mean",
    attention_mask: Int[Tensor, "n_texts pos"] | None = None,
    position_mask: Bool[Tensor, "n_texts pos"] | None = None,
    keep_first_position: bool = True,
    batch_size: int = 16,
    sort_by_length: bool = True,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> dict[str, Tensor]:
    """Run ``model`` over token ids in batches and reduce each hook's activations as they stream.

    No activation cache is built: a capture hook passes each batch's activation at each hook
    point to that hook's reducer and drops it. The forward pass stops after the deepest requested
    block; hooks outside the blocks (``ln_final.*``, ``unembed.*``) run the rest of the model.

    Parameters
    ----------
    model : HookedTransformer
    tokens : LongTensor of shape (n_texts, pos), or Tokenized
        Token ids (padded on either side). A :class:`~interp.models.Tokenized` also brings its
        attention mask.
    hook_names : sequence of str, or str
        TransformerLens hook names, e.g. ``"blocks.3.hook_resid_post"`` (see ``interp.hooks``);
        checked up front. Optional when ``reducer`` is a dict.
    reducer : str, Reducer, Reducer subclass, or dict {hook_name: any of these}, default="mean"
        ``"mean"`` (:class:`MeanOverPositions`, (n_texts, d)), ``"last"`` (:class:`LastToken`),
        ``"sum"`` (:class:`RunningSum`, (d,)), ``"mean_tokens"`` (:class:`MeanOverTokens`, (d,)),
        ``"mean_texts"`` (:class:`MeanOverTexts`, (d,)), ``"all"`` (:class:`AllPositions`,
        (n_texts, pos, d)). A Reducer instance is a template: each hook gets a fresh copy. Reducer
        instances given in a dict are used as they are (read extra state such as
        ``RunningSum.count`` from them afterwards).
    attention_mask : LongTensor of shape (n_texts, pos), optional
        1 on real tokens, 0 on padding. Default: taken from ``tokens`` if it is a Tokenized, else
        all ones. Padding is never passed to a reducer as a selected position.
    position_mask : BoolTensor of shape (n_texts, pos), optional
        Restrict every reducer to these positions (e.g. response tokens only).
    keep_first_position : bool, default=True
        ``False`` drops each text's first real token from the selected positions (it carries
        "massive activations" in many models). A one-token text then selects nothing, which
        per-text reducers report as an error.
    batch_size : int, default=16
    sort_by_length : bool, default=True
        Batch texts of similar length together (less padding to compute); results keep the input
        order.
    progress : bool, default=True
        Show a tqdm bar. Tests pass ``False``.
    device : str or torch.device, optional
        Where to run; default (and the only allowed value) is the model's device.

    Returns
    -------
    dict of str to Tensor
        One float32 CPU tensor per hook, in ``hook_names`` order, of the reducer's shape.

    Raises
    ------
    KeyError
        An unknown hook name (with the closest valid names).
    ValueError
        Bad shapes, token ids outside the vocabulary, sequences longer than ``n_ctx``, a text
        without real tokens, a bad ``batch_size``/``reducer``, a hook whose dimension 1 is not
        the token position (attention patterns/scores), or ``device`` not the model's.

    Examples
    --------
    >>> acts = collect_activations(model, toks, hook_names=["blocks.0.hook_resid_post"],
    ...                            progress=False)  # doctest: +SKIP
    >>> acts["blocks.0.hook_resid_post"].shape  # doctest: +SKIP
    torch.Size([5, 16])
    """
    if isinstance(tokens, Tokenized):
        if attention_mask is not None:
            raise ValueError("pass attention_mask only with a token tensor, not with a Tokenized")
        tokens, attention_mask = tokens.tokens, tokens.attention_mask
    tokens, attention_mask = _check_tokens(model, tokens, attention_mask)
    n_texts, n_pos = tokens.shape
    if position_mask is not None:
        if not isinstance(position_mask, Tensor) or tuple(position_mask.shape) != (n_texts, n_pos):
            shape = tuple(position_mask.shape) if isinstance(position_mask, Tensor) else type(position_mask).__name__
            raise ValueError(f"position_mask must be a BoolTensor of shape {(n_texts, n_pos)}, got {shape}")
        position_mask = position_mask.bool().cpu()
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")

    reducers = _resolve_reducers(hook_names, reducer)
    names = list(reducers)
    check_hook_names(model, names)
    for name in names:
        if name.endswith(_NOT_POSITIONAL):
            raise ValueError(
                f"hook {name!r} has shape (batch, head, query_pos, key_pos); reducers pool over "
                "dimension 1 = token position and cannot reduce it"
            )
    run_device = _model_device(model, device)
    stop_at_layer, return_type = _forward_plan(names)

    lengths = attention_mask.sum(dim=1)
    order = torch.argsort(lengths, stable=True) if sort_by_length else torch.arange(n_texts)
    for r in reducers.values():
        r.start(n_texts, n_pos)

    current: dict[str, Tensor] = {}

    def make_hook(red: Reducer):
        def capture(act: Tensor, hook: Any) -> None:
            red.update(act, current["mask"])  # returns None: the activation is not changed
        return capture

    fwd_hooks = [(name, make_hook(red)) for name, red in reducers.items()]
    # the layout costs two copies of the weights, TransformerLens one per forward pass: worth it
    # from two batches on (callers that loop over single batches wrap their loop in it instead)
    layout = inference_layout(model) if n_texts > batch_size else contextlib.nullcontext()
    with temporary_hooks(model, fwd_hooks), layout:
        for start in tqdm(range(0, n_texts, batch_size), desc="collect activations",
                          disable=not progress, leave=False):
            rows = order[start:start + batch_size]
            am = attention_mask[rows]
            cols = _trimmed_columns(am)
            am = am[:, cols]
            selected = am.bool()
            if position_mask is not None:
                selected &= position_mask[rows][:, cols]
            if not keep_first_position:
                selected[torch.arange(len(rows)), _first_real(am)] = False
            for r in reducers.values():
                r.window(rows, cols)
            current["mask"] = selected.to(run_device)
            model(
                tokens[rows][:, cols].to(run_device),
                attention_mask=am.to(run_device),
                stop_at_layer=stop_at_layer,
                return_type=return_type,
            )
            current.clear()
    return {name: red.result() for name, red in reducers.items()}


def _check_tokens(
    model: HookedTransformer, tokens: Any, attention_mask: Any
) -> tuple[Tensor, Tensor]:
    if not isinstance(tokens, Tensor):
        raise TypeError(f"tokens must be a LongTensor (n_texts, pos) or a Tokenized, got {type(tokens).__name__}")
    if tokens.dim() == 1:
        tokens = tokens[None]
    if tokens.dim() != 2 or tokens.shape[0] == 0 or tokens.shape[1] == 0:
        raise ValueError(f"tokens must have shape (n_texts, pos) with n_texts, pos >= 1, got {tuple(tokens.shape)}")
    if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
        raise ValueError(f"tokens must hold integer token ids, got dtype {tokens.dtype}")
    tokens = tokens.long().cpu()
    d_vocab = model.cfg.d_vocab
    if int(tokens.min()) < 0 or int(tokens.max()) >= d_vocab:
        bad = ((tokens < 0) | (tokens >= d_vocab)).nonzero()[0].tolist()
        raise ValueError(
            f"token id {int(tokens[bad[0], bad[1]])} of text #{bad[0]} (position {bad[1]}) is "
            f"outside the vocabulary [0, {d_vocab}) of model {model.cfg.model_name!r}"
        )
    if tokens.shape[1] > model.cfg.n_ctx:
        raise ValueError(
            f"tokens have {tokens.shape[1]} positions but model {model.cfg.model_name!r} has "
            f"n_ctx={model.cfg.n_ctx}; tokenise with interp.models.tokenize (it truncates)"
        )
    if attention_mask is None:
        attention_mask = torch.ones_like(tokens)
    if not isinstance(attention_mask, Tensor) or attention_mask.shape != tokens.shape:
        shape = tuple(attention_mask.shape) if isinstance(attention_mask, Tensor) else type(attention_mask).__name__
        raise ValueError(f"attention_mask must have the shape of tokens {tuple(tokens.shape)}, got {shape}")
    attention_mask = (attention_mask.cpu() != 0).long()
    empty = (attention_mask.sum(dim=1) == 0).nonzero().flatten()
    if len(empty):
        raise ValueError(f"text #{int(empty[0])} has no real tokens (its attention_mask is all 0)")
    return tokens, attention_mask


def collect_from_texts(
    model: HookedTransformer,
    texts: Sequence[str],
    *,
    hook_names: Sequence[str] | str | None = None,
    reducer: ReducerSpec | Mapping[str, ReducerSpec] = "mean",
    padding_side: str = "left",
    max_length: int | None = None,
    keep_first_position: bool = True,
    batch_size: int = 16,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> dict[str, Tensor]:
    """Tokenise ``texts`` with :func:`interp.models.tokenize` and :func:`collect_activations`.

    Texts are tokenised as they are (``add_special_tokens=False``, truncated from the left to
    ``max_length`` / ``n_ctx`` with a warning). Wrap chats with :func:`interp.chat_prompt` /
    :func:`interp.models.chat_sequence` first, or use :func:`tokenize_chat`. The token ids of
    all texts are held at once (8 bytes per token); activations are still reduced per batch.

    Parameters
    ----------
    model : HookedTransformer
        A model with a tokenizer (from :func:`interp.load_model`).
    texts : sequence of str
    hook_names, reducer, keep_first_position, batch_size, progress, device
        As in :func:`collect_activations`. A :class:`PositionSelect` cannot be used here (its
        mask must match a tokenisation you hold): tokenise yourself and call
        :func:`collect_activations`.
    padding_side : {"left", "right"}, default="left"
    max_length : int, optional

    Returns
    -------
    dict of str to Tensor
        As :func:`collect_activations`, rows in ``texts`` order.
    """
    specs = reducer.values() if isinstance(reducer, Mapping) else [reducer]
    if any(isinstance(s, PositionSelect) or s is PositionSelect for s in specs):
        raise ValueError(
            "PositionSelect needs a mask in the layout of the tokens; tokenise with "
            "interp.models.tokenize (or tokenize_chat) and call collect_activations"
        )
    toks = tokenize(model, texts, padding_side=padding_side, max_length=max_length)
    return collect_activations(
        model, toks, hook_names=hook_names, reducer=reducer,
        keep_first_position=keep_first_position, batch_size=batch_size,
        progress=progress, device=device,
    )


# ---------------------------------------------------------------------------------------------
# chat sequences with their response positions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatTokens:
    """Left-padded chat sequences ``chat_prompt(prompt) + response + eos`` and where the answer is.

    Attributes
    ----------
    tokens : LongTensor of shape (n, pos)
    attention_mask : LongTensor of shape (n, pos)
        1 on real tokens.
    response_mask : BoolTensor of shape (n, pos)
        ``True`` on the tokens of the response text (not the prompt, not the final end-of-turn
        token).
    end_mask : BoolTensor of shape (n, pos)
        ``True`` on the final end-of-turn token of each sequence (the last real token).
    """

    tokens: Int[Tensor, "n pos"]
    attention_mask: Int[Tensor, "n pos"]
    response_mask: Bool[Tensor, "n pos"]
    end_mask: Bool[Tensor, "n pos"]

    @property
    def tokenized(self) -> Tokenized:
        return Tokenized(tokens=self.tokens, attention_mask=self.attention_mask)


def tokenize_chat(
    model: HookedTransformer,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    max_length: int | None = None,
) -> ChatTokens:
    """Tokenise chat sequences (left padding) and mark the response tokens in each.

    Each text is :func:`interp.models.chat_sequence` ``(model, prompt, response)``. The response
    tokens are those after the tokens of ``chat_prompt(model, prompt)``; if the joint
    tokenisation merges tokens across that boundary the first differing token is counted as the
    response's. Long sequences lose tokens from the left (the response is kept).

    Parameters
    ----------
    model : HookedTransformer
        With a tokenizer and chat template.
    prompts, responses : sequence of str
        Same length; responses must be non-empty after stripping whitespace.
    max_length : int, optional
        Default ``model.cfg.n_ctx``.

    Returns
    -------
    ChatTokens
    """
    prompts, responses = list(prompts), list(responses)
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")
    for i, response in enumerate(responses):
        if not isinstance(response, str) or not response.strip():
            raise ValueError(f"response #{i} must be a non-empty string, got {response!r}")
    texts = [chat_sequence(model, p, r) for p, r in zip(prompts, responses)]
    toks = tokenize(model, texts, padding_side="left", max_length=max_length)
    tokenizer = model.tokenizer
    full_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer([chat_prompt(model, p) for p in prompts], add_special_tokens=False)["input_ids"]
    n, width = toks.tokens.shape
    response_mask = torch.zeros((n, width), dtype=torch.bool)
    end_mask = torch.zeros((n, width), dtype=torch.bool)
    for i, (full, head) in enumerate(zip(full_ids, prompt_ids)):
        shared = 0
        for a, b in zip(full, head):
            if a != b:
                break
            shared += 1
        if shared < len(head):
            logger.warning("text #%d: the chat prompt's tokens are not a prefix of the full "
                           "sequence (%d of %d match); response starts at the first difference",
                           i, shared, len(head))
        tail = len(full) - shared  # response tokens + end-of-turn token
        n_real = int(toks.attention_mask[i].sum())
        first = width - min(tail, n_real)
        response_mask[i, first:width - 1] = True
        end_mask[i, width - 1] = True
    if bool((response_mask.sum(dim=1) == 0).any()):
        i = int((response_mask.sum(dim=1) == 0).nonzero()[0])
        raise ValueError(f"response #{i} has no tokens of its own in the chat sequence")
    return ChatTokens(tokens=toks.tokens, attention_mask=toks.attention_mask,
                      response_mask=response_mask, end_mask=end_mask)
