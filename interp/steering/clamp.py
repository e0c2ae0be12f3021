"""Clamp one SAE feature inside the model's forward pass (O'Brien et al. 2024).

At the SAE's hook each vector ``x`` is encoded, the feature is set to ``value``, and the
difference is decoded back: ``x + decode(f') - decode(f)``. The SAE's reconstruction error is
kept, so with the feature left at its own value the model's output is exactly unchanged and
only the clamped feature moves the residual stream. Hooks are attached with
:func:`interp.hooks.temporary_hooks` and removed when the block exits, also on an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from transformer_lens import HookedTransformer

__all__ = ["POSITIONS", "clamp", "clamp_hook"]

#: ``"all"``: every position of every forward pass (O'Brien et al.); ``"last"``: only the last
#: position of each forward pass (with :func:`interp.generate`'s KV cache: the prompt's last
#: token and every generated token).
POSITIONS = ("all", "last")


def _check_feature(sae: Any, feature: Any) -> int:
    if isinstance(feature, bool) or not isinstance(feature, int | torch.Tensor) or (
            isinstance(feature, torch.Tensor) and feature.numel() != 1):
        raise TypeError(f"feature must be an int feature index, got {feature!r}")
    feature = int(feature)
    if not 0 <= feature < sae.cfg.d_sae:
        raise IndexError(f"feature {feature} is out of range for an SAE with d_sae={sae.cfg.d_sae}")
    return feature


def clamp_hook(sae: Any, feature: int, value: float | None, *, positions: str = "all",
               conditional: bool = False) -> Any:
    """The TransformerLens hook function behind :func:`clamp` (``value=None``: pass-through).

    With ``conditional=True`` a sequence is clamped only if the feature fires (> 0) at the last
    token of its prompt: decided on each prompt pass (a forward over more than one position)
    and kept for the cached one-token passes that follow.
    """
    state: dict[str, Tensor] = {}

    def hook(x: Tensor, hook: Any) -> Tensor:
        if x.shape[-1] != sae.cfg.d_in:
            raise ValueError(f"hook {hook.name!r} gives vectors of width {x.shape[-1]} but the SAE reads "
                             f"width {sae.cfg.d_in}")
        f = sae.encode(x.to(sae.W_dec.dtype))
        own = f[..., feature]
        if conditional and (x.shape[1] > 1 or "fires" not in state):
            state["fires"] = own[:, -1] > 0
        target = own if value is None else torch.full_like(own, float(value))
        if positions == "last":
            target = torch.cat([own[:, :-1], target[:, -1:]], dim=1)
        if conditional:
            target = torch.where(state["fires"][:, None], target, own)
        changed = f.clone()
        changed[..., feature] = target
        return x + (sae.decode(changed) - sae.decode(f)).to(x.dtype)

    return hook


@contextmanager
def clamp(
    model: HookedTransformer,
    sae: Any,
    feature: int,
    value: float | None,
    *,
    positions: str = "all",
    conditional: bool = False,
    hook: str | None = None,
) -> Iterator[HookedTransformer]:
    """Within the block, every forward pass of `model` runs with `feature` of `sae` set to `value`.

    Parameters
    ----------
    model : HookedTransformer
    sae : sae_lens SAE
        Trained at `hook` of `model` (default ``sae.cfg.metadata.hook_name``); its width must
        match the hook's.
    feature : int
        Feature index in ``[0, sae.cfg.d_sae)``.
    value : float or None
        The activation to set (O'Brien et al.: 10 or 12 for Phi-3 Mini's refusal feature); None
        leaves the feature at its own value (a pass-through: outputs equal the unhooked model's).
    positions : {"all", "last"}, default="all"
        See :data:`POSITIONS`.
    conditional : bool, default=False
        Clamp only the sequences whose prompt fires the feature (at its last token).
    hook : str, optional

    Yields
    ------
    HookedTransformer
        `model` itself, hooked. Its parameters are never changed.

    Examples
    --------
    >>> with clamp(model, sae, feature=123, value=12.0):  # doctest: +SKIP
    ...     texts = interp.generate(model, prompts)
    """
    from interp.hooks import temporary_hooks
    from interp.steering.features import sae_for_hook

    hook = sae_for_hook(model, sae, hook)
    feature = _check_feature(sae, feature)
    if positions not in POSITIONS:
        raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
    if value is not None and not isinstance(value, int | float):
        raise TypeError(f"value must be a number or None, got {value!r}")
    with temporary_hooks(model, [(hook, clamp_hook(sae, feature, value, positions=positions,
                                                   conditional=conditional))]):
        yield model
