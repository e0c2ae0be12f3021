"""The difference-in-means refusal direction and its two interventions (Arditi et al. 2024).

* :func:`refusal_direction`: mean activation at the last prompt token (where the answer starts)
  over harmful prompts minus over benign ones, at one hook;
* :func:`add_direction`: activation addition ``x + alpha * r`` at that hook (``alpha = 1`` is
  Arditi et al.'s addition of the raw difference in means), every position;
* :func:`ablate_direction`: directional ablation ``x - (x . r_hat) r_hat`` on the residual
  stream before and after every block's attention and after the last block, every position.

Both interventions are context managers over :func:`interp.hooks.temporary_hooks` that never
change the model's parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import HookedTransformer

__all__ = ["ablate_direction", "add_direction", "refusal_direction"]


def _check_direction(model: HookedTransformer, direction: Any) -> Tensor:
    if not isinstance(direction, Tensor) or direction.shape != (model.cfg.d_model,):
        shape = tuple(direction.shape) if isinstance(direction, Tensor) else type(direction).__name__
        raise ValueError(f"direction must be a tensor of shape ({model.cfg.d_model},) (d_model of model "
                         f"{model.cfg.model_name!r}), got {shape}")
    if not bool(torch.isfinite(direction).all()) or float(direction.norm()) == 0.0:
        raise ValueError("direction must be finite and non-zero")
    return direction.detach().to(device=model.cfg.device, dtype=torch.float32)


def refusal_direction(
    model: HookedTransformer,
    harmful: Sequence[Any],
    benign: Sequence[Any],
    *,
    hook: str,
    batch_size: int = 16,
    progress: bool = True,
) -> Float[Tensor, " d_model"]:
    """Mean `hook` activation at the last prompt token, harmful prompts minus benign prompts.

    Parameters
    ----------
    harmful, benign : sequence of str (or objects with ``.text``)
        User prompts, wrapped with :func:`interp.chat_prompt`.
    hook : str
        A residual-stream hook, e.g. ``"blocks.15.hook_resid_post"``.

    Returns
    -------
    Tensor of shape (d_model,), float32 on CPU
        Not normalised: its norm is the distance between the two means.
    """
    from interp.activations import collect_from_texts
    from interp.models import chat_prompt

    out = []
    for name, prompts in (("harmful", harmful), ("benign", benign)):
        texts = [chat_prompt(model, getattr(p, "text", p)) for p in prompts]
        if not texts:
            raise ValueError(f"refusal_direction needs at least one {name} prompt")
        acts = collect_from_texts(model, texts, hook_names=[hook], reducer="last", batch_size=batch_size,
                                  progress=progress)[hook]
        if acts.dim() != 2 or acts.shape[1] != model.cfg.d_model:
            raise ValueError(f"hook {hook!r} is not a residual-stream hook of width {model.cfg.d_model}")
        out.append(acts.mean(0))
    return out[0] - out[1]


@contextmanager
def add_direction(model: HookedTransformer, direction: Tensor, alpha: float, *,
                  hook: str) -> Iterator[HookedTransformer]:
    """Within the block, `hook`'s activation is ``x + alpha * direction`` at every position.

    `direction` has shape (d_model,) (e.g. from :func:`refusal_direction`, unnormalised: alpha 1
    adds the full difference in means); `hook` is a residual-stream hook of shape
    (batch, pos, d_model).
    """
    from interp.hooks import temporary_hooks

    r = _check_direction(model, direction)

    def add(x: Tensor, hook: Any) -> Tensor:
        return x + (alpha * r).to(x.dtype)

    with temporary_hooks(model, [(hook, add)]):
        yield model


@contextmanager
def ablate_direction(model: HookedTransformer, direction: Tensor) -> Iterator[HookedTransformer]:
    """Within the block, the direction is projected out of the residual stream everywhere.

    Hooks ``blocks.l.hook_resid_pre`` and ``blocks.l.hook_resid_mid`` (where the model has it) of
    every block and the last block's ``hook_resid_post``: no block reads, and the unembedding
    does not see, any component along ``direction`` (shape (d_model,); normalised here):
    ``x - (x . u) u`` on every (batch, pos, d_model) residual.
    """
    from interp.hooks import resid_mid, resid_post, resid_pre, temporary_hooks

    unit = _check_direction(model, direction)
    unit = unit / unit.norm()

    def ablate(x: Tensor, hook: Any) -> Tensor:
        u = unit.to(x.dtype)
        return x - (x @ u)[..., None] * u

    n = model.cfg.n_layers
    names = [resid_pre(l) for l in range(n)] + [resid_mid(l) for l in range(n)] + [resid_post(n - 1)]
    names = [name for name in names if name in model.hook_dict]  # no resid_mid in parallel blocks
    with temporary_hooks(model, [(name, ablate) for name in names]):
        yield model
