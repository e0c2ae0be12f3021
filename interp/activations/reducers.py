"""Reducers: what :func:`~interp.activations.collect_activations` keeps of each hook's activations.

A reducer receives one batch of one hook's activations at a time, with a boolean ``mask`` of
shape (batch, pos) that is ``True`` only on the positions to use, and keeps a reduction of them:
a mean over positions (:class:`MeanOverPositions`), the last selected token (:class:`LastToken`),
a running sum (:class:`RunningSum`), ... Reducers that keep no per-text rows
(:class:`RunningSum`, :class:`MeanOverTokens`, :class:`MeanOverTexts`) use the same memory for
ten texts as for a million. Results are float32 tensors on CPU.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

__all__ = [
    "AllPositions",
    "LastToken",
    "MeanOverPositions",
    "MeanOverTexts",
    "MeanOverTokens",
    "PositionSelect",
    "REDUCERS",
    "Reducer",
    "ReducerSpec",
    "RunningSum",
    "TokenRows",
    "make_reducer",
    "resolve_reducers",
]


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
    #: ``True`` when the reducer can hand its rows to a ``sink`` instead of keeping them
    #: (``collect_activations(..., out=dir)`` writes them to shards).
    streams_rows: ClassVar[bool] = False
    #: Set by ``collect_activations(..., out=...)``: ``sink(rows, text_index, position=None)``.
    sink: Callable[..., None] | None = None

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
        if self.sink is not None:
            self.sink(values, self._rows)
            return
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

    streams_rows = True

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

    streams_rows = True

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


class TokenRows(Reducer):
    """Every selected token as its own row: result of shape (n_tokens, d), e.g. to train an SAE.

    Rows come in the order the batches ran (``collect_activations`` sorts texts by length);
    after :meth:`result`, ``text_index`` and ``position`` (LongTensors of shape (n_tokens,))
    give each row's text (index into the input) and token column. Memory grows with the
    number of selected tokens (4 bytes x d per token).
    """

    streams_rows = True

    def start(self, n_texts: int, n_pos: int) -> None:
        super().start(n_texts, n_pos)
        self._chunks: list[Tensor] = []
        self._where: list[tuple[Tensor, Tensor]] = []

    def update(self, acts: Tensor, mask: Tensor) -> None:
        mask = mask.to(acts.device)
        rows = acts[mask].detach().to(device="cpu", dtype=torch.float32)
        text, col = mask.nonzero(as_tuple=True)
        where = (self._rows.cpu()[text.cpu()], col.cpu() + (self._cols.start or 0))
        if self.sink is not None:
            self.sink(rows, *where)
            return
        self._chunks.append(rows)
        self._where.append(where)

    def result(self) -> Float[Tensor, "n_tokens ..."]:
        if not self._chunks:
            raise RuntimeError("TokenRows.result() called before any update")
        self.text_index = torch.cat([t for t, _ in self._where])
        self.position = torch.cat([c for _, c in self._where])
        return torch.cat(self._chunks)


#: Names accepted by ``reducer=``.
REDUCERS: dict[str, type[Reducer]] = {
    "mean": MeanOverPositions,
    "last": LastToken,
    "sum": RunningSum,
    "mean_tokens": MeanOverTokens,
    "mean_texts": MeanOverTexts,
    "all": AllPositions,
    "tokens": TokenRows,
}

ReducerSpec = str | Reducer | type[Reducer]



def make_reducer(spec: ReducerSpec, hook: str) -> Reducer:
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


def resolve_reducers(
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
            out[name] = spec if isinstance(spec, Reducer) else make_reducer(spec, name)
        if len({id(r) for r in out.values()}) != len(out):
            raise ValueError("the same Reducer instance appears for two hooks; give each its own")
        return out
    if hook_names is None:
        raise ValueError("hook_names is required unless reducer is a dict {hook_name: reducer}")
    names = list(dict.fromkeys(hook_names))
    if not names:
        raise ValueError("hook_names is empty; name at least one hook, e.g. 'blocks.0.hook_resid_post'")
    return {name: make_reducer(reducer, name) for name in names}
