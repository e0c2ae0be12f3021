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


def assert_unchanged(model: torch.nn.Module, before: dict) -> None:
    """Raise ``AssertionError`` naming the first tensor that differs from ``before`` in any way."""
    after = snapshot(model)
    assert after.keys() == before.keys(), sorted(set(after) ^ set(before))
    for name, (copy, stride, grad) in before.items():
        now, now_stride, now_grad = after[name]
        assert (now.dtype, now.shape, now_stride, now_grad) == (copy.dtype, copy.shape, stride, grad), name
        assert torch.equal(now, copy), f"{name} changed"
