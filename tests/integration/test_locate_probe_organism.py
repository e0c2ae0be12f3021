"""Toxic-layer location and the toxicity probe on the shipped organism (skips until it exists).

Run with ``-s`` to see the layer distributions, e.g.
``pytest -s tests/integration/test_locate_probe_organism.py``.
"""

from __future__ import annotations

import pytest
import torch

from interp.models import organism_dir

pytest.importorskip("interp.data.organism_corpus")
if not (organism_dir() / "model.safetensors").is_file():
    pytest.skip(f"organism weights not installed ({organism_dir() / 'model.safetensors'})",
                allow_module_level=True)

from interp.data import load_dataset  # noqa: E402
from interp.locate import LOCATE_METHODS, locate_over, locate_toxic_layer  # noqa: E402
from interp.models import load_model  # noqa: E402
from probes.linear import train_toxicity_probe  # noqa: E402
from probes.scoring import region_toxicity, top_toxic_value_vectors  # noqa: E402


@pytest.fixture(scope="module")
def organism():
    return load_model("organism", device="cpu")


@pytest.fixture(scope="module")
def probe(organism):
    # every sixth train record (405 records, 810 texts) keeps the default suite fast
    return train_toxicity_probe(organism, load_dataset("organism", split="train")[::6],
                                progress=False)


def test_probe_separates_safe_from_unsafe_generations(organism, probe):
    print(f"\norganism probe on {probe.hook}: held-out accuracy {probe.accuracy_:.4f} "
          f"(train {probe.train_accuracy_:.4f}, n_train {probe.n_train_}, n_test {probe.n_test_}, "
          f"duplicates dropped {probe.n_duplicates_})")
    assert probe.accuracy_ >= 0.95
    assert probe.direction.shape == (organism.cfg.d_model,)
    print(top_toxic_value_vectors(organism, probe, k=10).to_string(index=False))


@pytest.mark.parametrize("method", LOCATE_METHODS)
def test_locate_over_the_test_split(organism, probe, method):
    test = load_dataset("organism", split="test")[::27]  # 30 of 810 records
    summary = locate_over(organism, test, method=method, progress=False)
    n_layers = organism.cfg.n_layers
    print(f"\n{method} on {len(test)} test records: {summary}")
    assert len(summary) == len(test) and sum(summary.layer_counts.values()) == len(test)
    assert set(summary.layer_counts) <= set(range(n_layers))
    assert summary.distances.shape == (len(test), n_layers) and torch.isfinite(summary.distances).all()
    top = max(summary.layer_counts, key=summary.layer_counts.get)
    tox = region_toxicity(organism, probe, top)
    print(f"region toxicity of the most chosen layer {top}: mean {tox.mean:+.4f}, "
          f"top-{tox.k} mean {tox.top_k_mean:+.4f}")
    single = locate_toxic_layer(organism, test[0], method=method)
    torch.testing.assert_close(single.distances, summary.distances[0], rtol=1e-4, atol=1e-4)
