"""Weight memory layout for fast HookedTransformer forward passes.

TransformerLens 3.9 computes several projections by first copying a weight into another
memory order: ``F.linear(x, self.W_U.T.contiguous())`` in the unembedding and the gated MLP,
``einops.rearrange(W_Q, "head d_model d_head -> (head d_head) d_model")`` for Q/K/V and a
``.contiguous()`` rearrangement of ``W_O``. On every forward pass, every such weight is copied
once: for SmolLM2-135M on a CPU this is ~2/3 of the time of a one-token decoding step.

:func:`inference_layout` stores those parameters, for the duration of a ``with`` block, in the
memory order those expressions ask for (same shapes, same values, other strides), so the
``.contiguous()`` / ``rearrange`` calls become free views. The matrices handed to ``F.linear``
are then exactly the ones TransformerLens would have built, so outputs are bitwise identical
(tested). On exit every touched parameter is made contiguous again, in place: the caller's
``Parameter`` objects, values and dtypes are unchanged.

Only parameters whose forward pass copies them are touched; GPT-2-style MLPs (``addmm`` on
``W_in``/``W_out``) and embeddings are left alone, and so are inference tensors (parameters of a
model copied inside ``torch.inference_mode()``, which cannot take new storage): those keep
TransformerLens's per-pass copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["inference_layout"]

# parameter-name suffix -> permutation whose contiguous result is the order TL's forward reads
_ORDERS: dict[str, tuple[int, ...]] = {
    "unembed.W_U": (1, 0),  # [d_model, d_vocab] read as W_U.T
    "attn.W_Q": (0, 2, 1),  # [head, d_model, d_head] read as [(head d_head), d_model]
    "attn.W_K": (0, 2, 1),
    "attn.W_V": (0, 2, 1),
    "attn._W_K": (0, 2, 1),  # grouped-query attention's un-repeated K/V weights
    "attn._W_V": (0, 2, 1),
    "attn.W_O": (2, 0, 1),  # [head, d_head, d_model] read as [d_model, (head d_head)]
}
_GATED_MLP_ORDERS: dict[str, tuple[int, ...]] = {
    "mlp.W_in": (1, 0),  # read as W.T by GatedMLP
    "mlp.W_gate": (1, 0),
    "mlp.W_out": (1, 0),
}


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _targets(model: torch.nn.Module) -> list[tuple[torch.nn.Parameter, tuple[int, ...]]]:
    gated = bool(getattr(getattr(model, "cfg", None), "gated_mlp", False))
    orders = {**_ORDERS, **(_GATED_MLP_ORDERS if gated else {})}
    out = []
    for name, param in model.named_parameters():
        if param.is_inference():  # e.g. a model copied inside torch.inference_mode(): views of such a
            continue              # parameter with new storage raise, so it keeps TL's per-pass copies
        for suffix, perm in orders.items():
            if (name == suffix or name.endswith("." + suffix)) and param.dim() == len(perm):
                out.append((param, perm))
                break
    return out


@contextmanager
def inference_layout(model: Any) -> Iterator[Any]:
    """Within the block, keep `model`'s projection weights in the memory order its forward reads.

    Parameters
    ----------
    model : HookedTransformer
        Its parameters are re-laid out in place (``param.data``) and made contiguous again on
        exit, also when the block raises. Nesting is harmless.

    Yields
    ------
    HookedTransformer
        The same `model`.

    Notes
    -----
    Do not save a state dict with safetensors inside the block (the tensors are not
    contiguous there). Training inside the block works (the optimizer's state follows the
    parameters' strides), but keep the optimizer inside the block too.

    Examples
    --------
    >>> with inference_layout(model):  # doctest: +SKIP
    ...     logits = model(tokens)
    """
    touched = []
    # new storage is made outside inference mode, so the parameters stay trainable afterwards
    with torch.inference_mode(False), torch.no_grad():
        for param, perm in _targets(model):
            if param.is_contiguous():
                param.data = param.data.permute(perm).contiguous().permute(_inverse(perm))
                touched.append(param)
    try:
        yield model
    finally:
        with torch.inference_mode(False), torch.no_grad():
            for param in touched:
                param.data = param.data.contiguous()
