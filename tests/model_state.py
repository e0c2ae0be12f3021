"""Has a model changed? A copy of every parameter and buffer, compared bit for bit.

Imported by test modules as ``from model_state import assert_unchanged, snapshot`` (``tests/`` is
on ``sys.path`` because ``tests/conftest.py`` lives there and ``tests`` is not a package).
"""

from __future__ import annotations

import torch


def snapshot(model: torch.nn.Module) -> dict[str, tuple[torch.Tensor, tuple[int, ...], bool]]:
    """Every parameter and buffer: a copy, its stride and ``requires_grad``.

    The stride is kept because ``interp.layout.inference_layout`` re-lays weights out in memory
    and must put them back as they were, not only with the same values.
    """
    tensors = [*model.named_parameters(), *model.named_buffers()]
    return {name: (t.detach().clone(), t.stride(), t.requires_grad) for name, t in tensors}


def changed(model: torch.nn.Module, before: dict) -> list[str]:
    """Names of the tensors that differ from ``before`` in any way (added or removed ones too)."""
    live = {name: t for name, t in [*model.named_parameters(), *model.named_buffers()]}
    out = sorted(set(live) ^ set(before))
    for name, (copy, stride, grad) in before.items():
        now = live.get(name)
        if now is None:
            continue
        if (now.dtype, now.shape, now.stride(), now.requires_grad) != (copy.dtype, copy.shape, stride, grad) \
                or not torch.equal(now.detach(), copy):
            out.append(name)
    return out


def hooks_left(model: torch.nn.Module) -> list[str]:
    """Names of the submodules that still carry a forward or backward hook."""
    return [name or "<root>" for name, m in model.named_modules()
            if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks]


def assert_unchanged(model: torch.nn.Module, before: dict) -> None:
    """Raise ``AssertionError`` naming the tensors that differ from ``before`` in any way."""
    bad = changed(model, before)
    assert not bad, f"changed: {bad[:5]}"
