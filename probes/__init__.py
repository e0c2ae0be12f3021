"""Linear probes on the residual stream and parameter scoring against the probe's direction.

``probes.train_toxicity_probe(model, dataset)`` fits a :class:`LinearProbe` (Lee et al., ICML
2024: logistic regression on the last layer's residual stream, mean-pooled); its unit weight
vector ``probe.direction`` is "the toxic direction". ``probes.value_vector_toxicity`` scores each
MLP value vector (row of ``W_out``) by its cosine with that direction and
``probes.region_toxicity`` summarises a region (DINM's parameter toxicity).

Names are imported lazily so that ``import probes`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "LinearProbe": "probes.linear",
    "train_toxicity_probe": "probes.train",
    "train_probe_from_texts": "probes.train",
    "train_probe_from_csv": "probes.train",
    "train_probe_from_shards": "probes.streamed",
    "RegionToxicity": "probes.scoring",
    "ToxicSubspace": "probes.scoring",
    "value_vector_toxicity": "probes.scoring",
    "region_toxicity": "probes.scoring",
    "top_toxic_value_vectors": "probes.scoring",
    "toxic_subspace": "probes.scoring",
    "toxic_direction": "probes.scoring",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in {"linear", "scoring", "streamed", "train"}:
        return importlib.import_module(f"probes.{name}")
    raise AttributeError(f"module 'probes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
