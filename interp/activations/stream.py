"""The streaming core: the ONE place that runs a model over many texts with hooks.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Bool, Int
from torch import Tensor
from tqdm.auto import tqdm

from interp.activations.reducers import PositionSelect, Reducer, ReducerSpec, resolve_reducers
from interp.activations.shards import ActivationShards, finish_shards, open_shard_writers, removed_on_error
from interp.checks import model_device
from interp.hooks import check_hook_names, layer_of, temporary_hooks
from interp.layout import inference_layout
from interp.models import Tokenized, tokenize

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

__all__ = ["collect_activations", "collect_from_texts"]

_EMBED_HOOKS = frozenset({"hook_embed", "hook_pos_embed", "hook_tokens"})
#: Hook points whose dimension 1 is not the token position: reducers cannot pool them.
_NOT_POSITIONAL = ("hook_attn_scores", "hook_pattern")


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


def selected_positions(attention_mask: Int[Tensor, "n pos"], *, keep_first_position: bool = True,
                       position_mask: Bool[Tensor, "n pos"] | None = None) -> Bool[Tensor, "n pos"]:
    """The positions a reducer reads: real tokens (``attention_mask`` 1), within `position_mask`
    when given, without each row's first real token when ``keep_first_position=False``.

    Parameters
    ----------
    attention_mask : Tensor of shape (n, pos)
        1 on real tokens, 0 on padding (either side).
    keep_first_position : bool, default=True
    position_mask : BoolTensor of shape (n, pos), optional

    Returns
    -------
    BoolTensor of shape (n, pos)

    Examples
    --------
    >>> selected_positions(torch.tensor([[0, 1, 1], [1, 1, 0]]), keep_first_position=False).int().tolist()
    [[0, 0, 1], [0, 1, 0]]
    """
    selected = attention_mask.bool().clone()
    if position_mask is not None:
        selected &= position_mask.bool()
    if not keep_first_position:
        first = attention_mask.int().argmax(dim=1)  # the first real token of each row
        selected[torch.arange(selected.shape[0]), first] = False
    return selected


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
    out: str | Path | None = None,
    shard_rows: int = 16384,
) -> dict[str, Tensor] | ActivationShards:
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
        (n_texts, pos, d)), ``"tokens"`` (:class:`TokenRows`, (n_selected_tokens, d)). A Reducer
        instance is a template: each hook gets a fresh copy. Reducer instances given in a dict
        are used as they are (read extra state such as ``RunningSum.count`` from them afterwards).
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
    out : str or Path, optional
        A new (or empty) folder: each hook's rows are written there as safetensors shards while
        they stream, for sets that do not fit in memory (reducers ``"mean"``, ``"last"``,
        ``"tokens"``; see :mod:`interp.activations.shards`). Memory then stays one shard per hook.
    shard_rows : int, default=16384
        Rows per shard with `out`.

    Returns
    -------
    dict of str to Tensor, or ActivationShards
        One float32 CPU tensor per hook, in ``hook_names`` order, of the reducer's shape; with
        `out`, the :class:`~interp.activations.ActivationShards` of the folder.

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

    reducers = resolve_reducers(hook_names, reducer)
    names = list(reducers)
    check_hook_names(model, names)
    for name in names:
        if name.endswith(_NOT_POSITIONAL):
            raise ValueError(
                f"hook {name!r} has shape (batch, head, query_pos, key_pos); reducers pool over "
                "dimension 1 = token position and cannot reduce it"
            )
    run_device = model_device(model, device)
    stop_at_layer, return_type = _forward_plan(names)
    writers = open_shard_writers(out, reducers, shard_rows)

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
    with temporary_hooks(model, fwd_hooks), layout, removed_on_error(out if writers else None):
        for start in tqdm(range(0, n_texts, batch_size), desc="collect activations",
                          disable=not progress, leave=False):
            rows = order[start:start + batch_size]
            am = attention_mask[rows]
            cols = _trimmed_columns(am)
            am = am[:, cols]
            selected = selected_positions(am, keep_first_position=keep_first_position,
                                          position_mask=None if position_mask is None else position_mask[rows][:, cols])
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
    if writers:
        return finish_shards(out, writers, reducers, n_texts=n_texts, model_name=str(model.cfg.model_name),  # type: ignore[arg-type]
                             keep_first_position=keep_first_position)
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
    out: str | Path | None = None,
) -> dict[str, Tensor] | ActivationShards:
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
    hook_names, reducer, keep_first_position, batch_size, progress, device, out
        As in :func:`collect_activations`. A :class:`PositionSelect` cannot be used here (its
        mask must match a tokenisation you hold): tokenise yourself and call
        :func:`collect_activations`.
    padding_side : {"left", "right"}, default="left"
    max_length : int, optional

    Returns
    -------
    dict of str to Tensor
        As :func:`collect_activations`, rows in ``texts`` order: e.g. shape (n_texts, d_model)
        for ``"mean"`` / ``"last"``, (n_texts, pos, d_model) for ``"all"``.
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
        progress=progress, device=device, out=out,
    )
