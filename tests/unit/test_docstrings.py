"""Every public function of ``interp`` and ``probes`` has a docstring, and those that take or return
tensors say their shapes (the field's convention: ``Tensor of shape (n_texts, d_model)``)."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

PACKAGES = ["interp.models", "interp.data", "interp.activations", "interp.locate", "interp.evaluate",
            "interp.edits", "interp.mechanisms", "interp.steering", "interp.compare", "interp.intervals",
            "interp.checks", "interp.layout", "interp.executors", "probes"]
TENSOR = re.compile(r"Tensor|Float\[|Int\[|Bool\[")
SHAPE = re.compile(r"shape|\((?:\.\.\.|n|batch|d_\w+|pos|n_\w+)[,)]")


def _public(package: str) -> list[tuple[str, object]]:
    module = importlib.import_module(package)
    return [(f"{package}.{n}", getattr(module, n)) for n in module.__all__]


@pytest.mark.parametrize("package", PACKAGES)
def test_public_functions_document_their_shapes(package: str) -> None:
    undocumented, shapeless = [], []
    for name, obj in _public(package):
        if not inspect.isfunction(obj):  # classes, type aliases and constants are not checked here
            continue
        doc = inspect.getdoc(obj) or ""
        if not doc:
            undocumented.append(name)
        try:
            signature = str(inspect.signature(obj))
        except (TypeError, ValueError):
            continue
        if TENSOR.search(signature) and not SHAPE.search(doc):
            shapeless.append(name)
    assert not undocumented, f"no docstring: {undocumented}"
    assert not shapeless, f"tensor arguments or results without shapes in the docstring: {shapeless}"
