"""Toxic-layer location (DINM, Wang et al. ACL 2024): where do safe and unsafe answers part most?

For one SafeEdit record (an adversarial prompt X, a safe answer Y_safe and an unsafe answer
Y_unsafe) run both answers through the model, read the hidden state of every layer, and pick the
layer where the two are furthest apart (L2). The toxic region is that layer's MLP output matrix
(TransformerLens ``blocks.{l}.mlp.W_out``; Hugging Face ``mlp.c_proj`` / ``mlp.down_proj``).

Three definitions of "the hidden states" (``method=``):

``"response_mean"`` (default)
    ``chat_sequence(X, Y)`` (prompt + answer + end-of-turn token in the model's chat format),
    mean over the answer's own tokens (no prompt, no padding, never the first position of the
    sequence) of each block's residual output ``blocks.{l}.hook_resid_post`` (the same point for
    every layer; the last layer is read before ``ln_final``). Distance = L2 of the difference of
    the two means. Insensitive to length differences between the answers.
``"last_token"``
    The same sequences; the residual output at the last real token (the end-of-turn token).
``"easyedit"``
    What EasyEdit's ``SafetyEditor._locate_toxic_layer`` computes (read at zjunlp/EasyEdit
    ``easyeditor/editors/safety_editor.py``), to put our numbers next to EasyEdit's: the two
    answers ALONE (no prompt, no chat format), tokenised by the tokenizer as is (its own special
    tokens, e.g. a Llama BOS, are added), padded on the RIGHT to one length with the eos token,
    run as one batch with padding masked as attention keys (padding positions still get their
    own hidden states, with ordinary position ids, as in Hugging Face); distance = Frobenius
    norm of the difference of the whole ``[seq, d_model]`` matrices, padding INCLUDED; entry
    ``l`` is Hugging Face ``hidden_states[l + 1]``, so the last layer's entry is taken AFTER the
    final norm (``ln_final``), on another scale. Answers longer than ``n_ctx`` are cut on the
    right (EasyEdit's ``truncation=True``). Known accidents reproduced on purpose: when the
    answers differ in length the comparison is misaligned and padding decides much of the
    distance; the first position's "massive activations" (SmolLM2, GPT-2) weigh in.

In all methods the chosen layer is the first argmax of the distances (EasyEdit keeps the first
of equal maxima too). Unlike EasyEdit's script, which locates once for the first record and
reuses that layer, :func:`locate_over` locates every record (as the paper describes).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from interp.activations import AllPositions, LastToken, PositionSelect, collect_activations, tokenize_chat
from interp.hooks import resid_post, temporary_hooks
from interp.layout import inference_layout

if TYPE_CHECKING:
    import pandas as pd
    from transformer_lens import HookedTransformer

logger = logging.getLogger(__name__)

__all__ = ["LOCATE_METHODS", "Localization", "LocationSummary", "Region", "locate_over",
           "locate_toxic_layer"]

#: Valid ``method=`` values of :func:`locate_toxic_layer`.
LOCATE_METHODS: tuple[str, ...] = ("response_mean", "last_token", "easyedit")

_HF_MLP_OUT = {
    "gpt2": "transformer.h.{layer}.mlp.c_proj.weight",
    "llama": "model.layers.{layer}.mlp.down_proj.weight",
    "mistral": "model.layers.{layer}.mlp.down_proj.weight",
}


@dataclass(frozen=True)
class Region:
    """A parameter matrix of one layer: by default the MLP output matrix ``W_out``.

    Attributes
    ----------
    layer : int
        Block index, 0-based.
    module : str, default="mlp"
    parameter : str, default="W_out"
        TransformerLens name; ``W_out`` has shape (d_mlp, d_model): row ``i`` is value vector
        ``v_i``, the direction neuron ``i`` writes into the residual stream.
    """

    layer: int
    module: str = "mlp"
    parameter: str = "W_out"

    def __post_init__(self) -> None:
        if isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < 0:
            raise ValueError(f"Region.layer must be an int >= 0, got {self.layer!r}")

    @property
    def tl_name(self) -> str:
        """TransformerLens parameter name, e.g. ``"blocks.3.mlp.W_out"``."""
        return f"blocks.{self.layer}.{self.module}.{self.parameter}"

    def hf_name(self, model_type: str) -> str:
        """Hugging Face parameter name for ``model_type`` (``"gpt2"``, ``"llama"``, ``"mistral"``).

        Note the layouts differ: GPT-2's ``c_proj.weight`` (a Conv1D) is stored (d_mlp, d_model)
        like ``W_out``; Llama's ``down_proj.weight`` is (d_model, d_mlp), the transpose.
        """
        if (self.module, self.parameter) != ("mlp", "W_out"):
            raise ValueError(f"hf_name is only defined for mlp.W_out regions, not {self.tl_name!r}")
        if model_type not in _HF_MLP_OUT:
            raise ValueError(f"unknown model_type {model_type!r}; valid: {sorted(_HF_MLP_OUT)}")
        return _HF_MLP_OUT[model_type].format(layer=self.layer)

    def weight(self, model: HookedTransformer) -> Float[Tensor, "d_mlp d_model"]:
        """The region's parameter in ``model`` (the live ``nn.Parameter``: clone before changing it)."""
        n_layers = model.cfg.n_layers
        if self.layer >= n_layers:
            raise ValueError(f"region {self} is outside model {model.cfg.model_name!r} "
                             f"({n_layers} layers, 0..{n_layers - 1})")
        try:
            return getattr(getattr(model.blocks[self.layer], self.module), self.parameter)
        except AttributeError:
            raise ValueError(f"model {model.cfg.model_name!r} has no parameter {self.tl_name!r}") from None

    def __str__(self) -> str:
        return self.tl_name


@dataclass(frozen=True)
class Localization:
    """Where one record's safe and unsafe answers part most.

    Attributes
    ----------
    distances : Tensor of shape (n_layers,)
        Safe-vs-unsafe distance at each layer (float32, CPU); meaning depends on ``method``.
    layer : int
        ``argmax(distances)`` (the first one on ties).
    region : Region
        That layer's MLP output matrix.
    method : str
        One of :data:`LOCATE_METHODS`.
    record_id : int, str or None
        ``record.id``.
    """

    distances: Float[Tensor, " n_layers"]
    layer: int
    region: Region
    method: str
    record_id: int | str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "method": self.method, "layer": self.layer,
                "region": str(self.region), "distances": self.distances.tolist()}


@dataclass
class LocationSummary:
    """Localizations of many records and the distribution of the chosen layers.

    Attributes
    ----------
    localizations : list of Localization
    method : str
    distances : Tensor of shape (n_records, n_layers)
    layer_counts : collections.Counter
        ``{layer: number of records that chose it}``.
    """

    localizations: list[Localization]
    method: str
    distances: Float[Tensor, "n_records n_layers"] = field(init=False)
    layer_counts: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.distances = torch.stack([loc.distances for loc in self.localizations])
        self.layer_counts = Counter(loc.layer for loc in self.localizations)

    def to_frame(self) -> pd.DataFrame:
        """One row per record: ``record_id``, ``layer``, then ``d{l}`` for every layer."""
        import pandas as pd

        frame = pd.DataFrame(self.distances.numpy(), columns=[f"d{l}" for l in range(self.distances.shape[1])])
        frame.insert(0, "layer", [loc.layer for loc in self.localizations])
        frame.insert(0, "record_id", [loc.record_id for loc in self.localizations])
        return frame

    def __len__(self) -> int:
        return len(self.localizations)

    def __str__(self) -> str:
        counts = sorted(self.layer_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"layer {layer}: {n}" for layer, n in counts)


# ---------------------------------------------------------------------------------------------
# record checks
# ---------------------------------------------------------------------------------------------


def _fields(record: Any, index: int | None, *, need_prompt: bool) -> tuple[str, str, str]:
    rid = getattr(record, "id", None)
    where = f"record {rid!r}" if index is None else f"record #{index} (id={rid!r})"
    names = (("adversarial_prompt",) if need_prompt else ()) + ("safe_generation", "unsafe_generation")
    values: dict[str, str] = {}
    for name in names:
        value = getattr(record, name, None)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: field {name!r} must be a non-empty string, got {value!r}; "
                             "locating the toxic layer needs a safe and an unsafe generation")
        values[name] = value
    return values.get("adversarial_prompt", ""), values["safe_generation"], values["unsafe_generation"]


def _check_method(method: str) -> None:
    if method not in LOCATE_METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {list(LOCATE_METHODS)}")


def _check_drop_first(method: str, drop_first_position: bool) -> None:
    if drop_first_position and method != "easyedit":
        raise ValueError(f"drop_first_position=True applies to method 'easyedit' only; method {method!r} "
                         "never reads the first position")


def _localization(distances: Tensor, method: str, record: Any) -> Localization:
    layer = int(torch.argmax(distances))
    return Localization(distances=distances, layer=layer, region=Region(layer), method=method,
                        record_id=getattr(record, "id", None))


# ---------------------------------------------------------------------------------------------
# the three distance definitions
# ---------------------------------------------------------------------------------------------


def _chat_distances(model: HookedTransformer, triples: Sequence[tuple[str, str, str]], *,
                    method: str, batch_size: int, device: Any) -> Float[Tensor, "n n_layers"]:
    """(n_records, n_layers) distances for "response_mean" / "last_token" over chat sequences."""
    prompts = [p for p, _, _ in triples for _ in range(2)]
    answers = [a for _, safe, unsafe in triples for a in (safe, unsafe)]
    chat = tokenize_chat(model, prompts, answers)
    names = [resid_post(layer) for layer in range(model.cfg.n_layers)]
    if method == "response_mean":
        reducer: Any = PositionSelect(chat.response_mask)
    else:
        reducer = LastToken()
    acts = collect_activations(model, chat.tokenized, hook_names=names, reducer=reducer,
                               keep_first_position=False, batch_size=batch_size,
                               progress=False, device=device)
    stacked = torch.stack([acts[name] for name in names], dim=1)  # (2n, n_layers, d_model)
    return torch.linalg.vector_norm(stacked[0::2] - stacked[1::2], dim=-1)


def _easyedit_distances(model: HookedTransformer, safe: str, unsafe: str, *,
                        device: Any, drop_first_position: bool = False) -> Float[Tensor, " n_layers"]:
    """EasyEdit's locator for one record (see the module docstring)."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or tokenizer.eos_token_id is None:
        raise ValueError(f"method 'easyedit' needs a tokenizer with an eos token; model "
                         f"{model.cfg.model_name!r} has none (load it with interp.load_model)")
    rows = [tokenizer(text, add_special_tokens=True)["input_ids"] for text in (safe, unsafe)]
    n_ctx = model.cfg.n_ctx
    for which, row in zip(("safe", "unsafe"), rows):
        if len(row) > n_ctx:
            logger.warning("easyedit: the %s generation has %d tokens; cut to n_ctx=%d on the right "
                           "(EasyEdit's truncation=True)", which, len(row), n_ctx)
    rows = [row[:n_ctx] for row in rows]
    if min(len(row) for row in rows) == 0:
        raise ValueError("method 'easyedit': a generation tokenizes to no tokens")
    width = max(len(row) for row in rows)
    tokens = torch.full((2, width), tokenizer.eos_token_id, dtype=torch.long)  # EasyEdit pads with eos
    keys = torch.zeros((2, width), dtype=torch.bool)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        keys[i, :len(row)] = True

    key_mask: dict[str, Tensor] = {}

    def mask_padding_keys(scores: Tensor, hook: Any) -> Tensor:
        # Hugging Face masks padding as attention keys only; its queries still run, at their
        # ordinary positions. TransformerLens's attention_mask would also move them to other
        # positions, so run with an all-ones mask and mask the keys here instead.
        keys_here = key_mask.setdefault(str(scores.device), keys.to(scores.device))
        return scores.masked_fill(~keys_here[:, None, None, :], float("-inf"))

    n_layers = model.cfg.n_layers
    names = [resid_post(layer) for layer in range(n_layers)]
    score_hooks = [(f"blocks.{layer}.attn.hook_attn_scores", mask_padding_keys) for layer in range(n_layers)]
    with temporary_hooks(model, score_hooks):
        acts = collect_activations(model, tokens, hook_names=names, reducer=AllPositions(),
                                   batch_size=2, sort_by_length=False, progress=False, device=device)
    hidden = [acts[name] for name in names]  # each (2, width, d_model)
    if model.cfg.normalization_type is not None:
        if model.cfg.normalization_type in ("LNPre", "RMSPre"):
            logger.warning("easyedit: model %r has folded final-norm weights (%s); the last layer's "
                           "entry is not Hugging Face's hidden_states[-1]", model.cfg.model_name,
                           model.cfg.normalization_type)
        with torch.inference_mode():
            last = hidden[-1].to(device=model.W_E.device, dtype=model.W_E.dtype)
            hidden[-1] = model.ln_final(last).float().cpu()
    start = 1 if drop_first_position else 0
    return torch.stack([torch.linalg.vector_norm(h[0, start:] - h[1, start:]) for h in hidden])


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def locate_toxic_layer(
    model: HookedTransformer,
    record: Any,
    *,
    method: str = "response_mean",
    drop_first_position: bool = False,
    device: str | torch.device | None = None,
) -> Localization:
    """Find the layer where a record's safe and unsafe answers are furthest apart.

    Parameters
    ----------
    model : HookedTransformer
        From :func:`interp.load_model` (tokenizer and chat template attached).
    record : SafetyRecord
        Needs ``safe_generation`` and ``unsafe_generation`` (and ``adversarial_prompt`` for the
        chat methods).
    method : {"response_mean", "last_token", "easyedit"}, default="response_mean"
        See the module docstring; ``"easyedit"`` reproduces EasyEdit's DINM locator.
    drop_first_position : bool, default=False
        ``"easyedit"`` only: leave the first position (whose "massive activations" weigh in)
        out of the distance. The chat methods never read the first position.
    device : str or torch.device, optional
        Default (and only allowed value): the model's device.

    Returns
    -------
    Localization
        ``distances`` of shape (n_layers,), ``layer`` = argmax, ``region`` = that layer's
        ``mlp.W_out``.

    Raises
    ------
    ValueError
        Unknown ``method`` (the valid ones are listed) or a record without a safe / unsafe
        generation (or prompt).

    Examples
    --------
    >>> loc = locate_toxic_layer(model, test[0])  # doctest: +SKIP
    >>> loc.layer, str(loc.region)  # doctest: +SKIP
    (4, 'blocks.4.mlp.W_out')
    """
    _check_method(method)
    _check_drop_first(method, drop_first_position)
    prompt, safe, unsafe = _fields(record, None, need_prompt=method != "easyedit")
    if method == "easyedit":
        distances = _easyedit_distances(model, safe, unsafe, device=device,
                                        drop_first_position=drop_first_position)
    else:
        distances = _chat_distances(model, [(prompt, safe, unsafe)], method=method,
                                    batch_size=2, device=device)[0]
    return _localization(distances, method, record)


def locate_over(
    model: HookedTransformer,
    dataset: Iterable[Any],
    *,
    method: str = "response_mean",
    drop_first_position: bool = False,
    batch_size: int = 16,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> LocationSummary:
    """Locate the toxic layer of every record of ``dataset`` (one localization per record).

    Parameters
    ----------
    model : HookedTransformer
    dataset : SafetyDataset or iterable of SafetyRecord
    method : {"response_mean", "last_token", "easyedit"}, default="response_mean"
    drop_first_position : bool, default=False
        ``"easyedit"`` only; see :func:`locate_toxic_layer`.
    batch_size : int, default=16
        Sequences per forward pass for the chat methods (``"easyedit"`` runs one record, i.e. its
        two answers padded together, per pass, as EasyEdit does).
    progress : bool, default=True
    device : str or torch.device, optional

    Returns
    -------
    LocationSummary
        ``str(summary)`` prints the layer distribution, e.g. ``"layer 4: 31, layer 5: 2"``.

    Raises
    ------
    ValueError
        Empty dataset, unknown method, or a record (named by index and id) without the fields.
    """
    _check_method(method)
    _check_drop_first(method, drop_first_position)
    records = list(dataset)
    if not records:
        raise ValueError("dataset is empty; locate_over needs at least one record")
    triples = [_fields(rec, i, need_prompt=method != "easyedit") for i, rec in enumerate(records)]
    with inference_layout(model):  # once, not per record (easyedit runs one record per pass)
        distances = _distances_over(model, triples, method=method, drop_first_position=drop_first_position,
                                    batch_size=batch_size, progress=progress, device=device)
    return LocationSummary([_localization(d, method, rec) for d, rec in zip(distances, records)], method)


def _distances_over(model: HookedTransformer, triples: list[tuple[str, str, str]], *, method: str,
                    drop_first_position: bool, batch_size: int, progress: bool, device: Any) -> Tensor:
    """(n_records, n_layers) distances of every record."""
    rows: list[Tensor] = []
    if method == "easyedit":
        for _, safe, unsafe in tqdm(triples, desc="locate (easyedit)", disable=not progress):
            rows.append(_easyedit_distances(model, safe, unsafe, device=device,
                                            drop_first_position=drop_first_position))
        return torch.stack(rows)
    chunk = max(1, 4 * batch_size)  # records per collect call: bounded memory
    for start in tqdm(range(0, len(triples), chunk), desc=f"locate ({method})", disable=not progress):
        rows.append(_chat_distances(model, triples[start:start + chunk], method=method,
                                    batch_size=batch_size, device=device))
    return torch.cat(rows)
