"""Weight differences between a base model and an edit of it, per layer and parameter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from interp.hooks import layer_of
from interp.mechanisms.inputs import check_pair

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["weight_diff"]


def _stable_rank(d: torch.Tensor) -> float:
    """||D||_F^2 / ||D||_2^2 of a matrix (heads flattened into rows); NaN for a zero matrix."""
    m = d.reshape(-1, d.shape[-1]) if d.dim() > 2 else d
    if m.dim() < 2:
        return float("nan")
    top = float(torch.linalg.matrix_norm(m, ord=2))
    return float(m.norm() ** 2) / top ** 2 if top > 0 else float("nan")


def weight_diff(base: HookedTransformer, edited: HookedTransformer, *, changed_only: bool = True) -> Any:
    """``||dW||_F``, ``||dW||_F / ||W||_F`` and the stable rank of ``dW`` for every parameter.

    Parameters
    ----------
    base, edited : HookedTransformer
        The same architecture (TransformerLens parameter names, e.g. ``blocks.3.mlp.W_out``).
    changed_only : bool, default=True
        Only rows whose parameter changed (a model compared with itself gives an empty table).

    Returns
    -------
    pandas.DataFrame
        ``parameter``, ``layer`` (-1 outside the blocks), ``module`` (``attn``, ``mlp``, ``ln1``,
        ... or ``embed`` / ``unembed``), ``shape``, ``norm`` (||W||_F), ``diff_norm``,
        ``relative``, ``stable_rank`` (1 for a rank-one update; NaN for vectors), ``max_abs``.

    Examples
    --------
    >>> weight_diff(model, interp.edits.dinm(model, test[0]).model)  # doctest: +SKIP
    """
    import pandas as pd

    check_pair(base, edited, what="weight_diff")
    edited_params = dict(edited.named_parameters())
    rows = []
    with torch.no_grad():
        for name, p in base.named_parameters():
            if name not in edited_params:
                raise ValueError(f"weight_diff: the edited model has no parameter {name!r}")
            q = edited_params[name]
            if q.shape != p.shape:
                raise ValueError(f"weight_diff: {name} has shape {tuple(p.shape)} in base, {tuple(q.shape)} edited")
            d = (q.detach().double().cpu() - p.detach().double().cpu())
            diff = float(d.norm())
            if changed_only and diff == 0:
                continue
            norm = float(p.detach().double().norm())
            parts = name.split(".")
            layer = layer_of(name) if name.startswith("blocks.") else -1
            module = parts[2] if layer >= 0 else parts[0]
            rows.append({"parameter": name, "layer": layer, "module": module, "shape": tuple(p.shape),
                         "norm": norm, "diff_norm": diff, "relative": diff / norm if norm > 0 else float("nan"),
                         "stable_rank": _stable_rank(d) if diff > 0 else float("nan"),
                         "max_abs": float(d.abs().max())})
    return pd.DataFrame(rows, columns=["parameter", "layer", "module", "shape", "norm", "diff_norm", "relative",
                                       "stable_rank", "max_abs"])
