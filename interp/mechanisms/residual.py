"""The residual stream entering a region, before and after an edit, and the "bypass share".

At layer ``l`` the MLP reads ``x = blocks.{l}.hook_resid_mid``. An edit can change what the
region computes in two ways: change ``x`` (everything upstream moved: a bypass or suppression
upstream, Lee et al. 2024's residual offset) or change the MLP's own input weights. With ``h``
the MLP pre-activation (``ln2`` then ``W_in``, and ``W_gate`` for gated MLPs), per token

    dh = h_edited(x') - h_base(x)
       = [h_base(x') - h_base(x)]      from the residual shift dx = x' - x
       + [h_edited(x') - h_base(x')]   from the edit of the MLP's input weights

and the **bypass share** is the first part's projection on the total, summed over tokens:
``sum <dh_x, dh> / sum |dh|^2``; the two shares add to 1 exactly (each may leave [0, 1] when
the parts point against each other). NaN when the pre-activations did not change (DINM at its
own layer: it trains ``W_out``, which acts after ``h``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from interp.hooks import resid_mid
from interp.mechanisms.inputs import check_pair, paired_activations, prompt_texts

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["ResidualShift", "mlp_preactivation", "residual_shift"]


def mlp_preactivation(model: HookedTransformer, layer: int, x: Tensor) -> Tensor:
    """The MLP pre-activation of block `layer` for residual `x` (..., d_model) -> (..., d_mlp),
    or (..., 2 * d_mlp) for a gated MLP (gate and linear input side by side)."""
    block = model.blocks[layer]
    mlp = block.mlp
    x_ln = block.ln2(x.to(device=mlp.W_in.device, dtype=mlp.W_in.dtype))
    h = x_ln @ mlp.W_in
    if getattr(mlp, "b_in", None) is not None:
        h = h + mlp.b_in
    if getattr(mlp, "W_gate", None) is not None:
        h = torch.cat([x_ln @ mlp.W_gate, h], dim=-1)
    return h.double().cpu()


@dataclass(frozen=True)
class ResidualShift:
    """How the residual stream entering a region moved, and where the pre-activation change came from.

    Attributes
    ----------
    layer : int
    dx_norm : float
        Mean over tokens of ||x' - x||.
    x_norm : float
        Mean over tokens of ||x|| (base).
    relative : float
        dx_norm / x_norm.
    offset_consistency : float
        ||mean(dx)|| / mean(||dx||): 1 when the edit adds the same vector at every token (a
        constant offset, as Lee et al. found for DPO), near 0 when the shifts point every way.
    offset_toxic_cosine : float
        cos(mean(dx), w) with the probe's toxic direction (NaN without a probe): negative when
        the offset points away from toxic.
    bypass_share, weight_share : float
        Shares of the pre-activation change from dx and from the MLP's input weights (sum 1).
    n_tokens : int
    """

    layer: int
    dx_norm: float
    x_norm: float
    relative: float
    offset_consistency: float
    offset_toxic_cosine: float
    bypass_share: float
    weight_share: float
    n_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def residual_shift(
    base: HookedTransformer,
    edited: HookedTransformer,
    layer: Any,
    prompts: Sequence[Any],
    *,
    probe: Any = None,
    keep_first_position: bool = False,
    chunk: int = 16,
    max_length: int | None = None,
) -> ResidualShift:
    """Residual shift entering block `layer`'s MLP and the bypass share, on identical tokens.

    Parameters
    ----------
    base, edited : HookedTransformer
    layer : int or Region
    prompts : sequence of str (or objects with ``.text``)
        User prompts, wrapped with :func:`interp.chat_prompt`.
    probe : LinearProbe or Tensor of shape (d_model,), optional
        For ``offset_toxic_cosine``.
    keep_first_position : bool, default=False
        Leave out each prompt's first token (massive activations) by default.
    chunk : int, default=16
        Prompts per pass (memory: 2 x chunk x pos x d_model floats).
    """
    check_pair(base, edited, what="residual_shift")
    layer = getattr(layer, "layer", layer)
    n = base.cfg.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n:
        raise ValueError(f"layer must be an int in [0, {n - 1}] (or a Region), got {layer!r}")
    texts = prompt_texts(base, prompts, what="residual_shift")
    hook = resid_mid(layer)
    dx_sum = torch.zeros(base.cfg.d_model, dtype=torch.float64)
    dx_norm = x_norm = num = den = 0.0
    count = 0
    with torch.no_grad():
        for acts_b, acts_e, sel in paired_activations(base, edited, texts, [hook], chunk=chunk,
                                                      keep_first_position=keep_first_position,
                                                      max_length=max_length):
            x, x1 = acts_b[hook][sel].double(), acts_e[hook][sel].double()
            dx = x1 - x
            dx_sum += dx.sum(0)
            dx_norm += float(dx.norm(dim=-1).sum())
            x_norm += float(x.norm(dim=-1).sum())
            count += x.shape[0]
            h0, h0x1 = mlp_preactivation(base, layer, x.float()), mlp_preactivation(base, layer, x1.float())
            h1 = mlp_preactivation(edited, layer, x1.float())
            dh, dh_x = h1 - h0, h0x1 - h0
            num += float((dh_x * dh).sum())
            den += float((dh * dh).sum())
    if count == 0:
        raise ValueError("residual_shift: no tokens selected (one-token prompts with keep_first_position=False?)")
    mean_dx = dx_sum / count
    cos = float("nan")
    if probe is not None:
        import probes

        w = probes.toxic_direction(base, probe).double()
        norm = float(mean_dx.norm())
        cos = float(mean_dx @ w) / norm if norm > 0 else float("nan")
    share = num / den if den > 0 else float("nan")
    return ResidualShift(layer=layer, dx_norm=dx_norm / count, x_norm=x_norm / count,
                         relative=(dx_norm / x_norm) if x_norm > 0 else float("nan"),
                         offset_consistency=float(mean_dx.norm()) / (dx_norm / count) if dx_norm > 0 else float("nan"),
                         offset_toxic_cosine=cos, bypass_share=share, weight_share=1 - share, n_tokens=count)
