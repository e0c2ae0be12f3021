"""Toxic-layer location and the toxicity probe on the shipped organism (skips until it exists).

Run with ``-s`` to see the layer distributions, e.g.
``pytest -s tests/integration/test_locate_probe_organism.py``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split

from interp.models import organism_dir

pytest.importorskip("interp.data.organism_corpus")
if not (organism_dir() / "model.safetensors").is_file():
    pytest.skip(f"organism weights not installed ({organism_dir() / 'model.safetensors'})",
                allow_module_level=True)

from model_state import assert_unchanged, snapshot  # noqa: E402  (tests/model_state.py)

from interp.data import load_dataset  # noqa: E402
from interp.hooks import resid_post  # noqa: E402
from interp.locate import LOCATE_METHODS, locate_over, locate_toxic_layer  # noqa: E402
from interp.models import load_model  # noqa: E402
from probes.scoring import region_toxicity, top_toxic_value_vectors  # noqa: E402
from probes.train import train_toxicity_probe  # noqa: E402


@pytest.fixture(scope="module")
def organism():
    return load_model("organism", device="cpu")


@pytest.fixture(scope="module")
def pristine(organism):
    """The organism's parameters and buffers before anything below ran on it."""
    return snapshot(organism)


@pytest.fixture(scope="module")
def probe_records():
    # every sixth train record (405 records, 810 texts) keeps the default suite fast
    return load_dataset("organism", split="train")[::6]


@pytest.fixture(scope="module")
def probe(organism, pristine, probe_records):
    return train_toxicity_probe(organism, probe_records, progress=False)


def test_probe_separates_safe_from_unsafe_generations(organism, probe):
    print(f"\norganism probe on {probe.hook}: held-out accuracy {probe.accuracy_:.4f} "
          f"(train {probe.train_accuracy_:.4f}, n_train {probe.n_train_}, n_test {probe.n_test_}, "
          f"duplicates dropped {probe.n_duplicates_})")
    assert probe.accuracy_ >= 0.95
    assert probe.direction.shape == (organism.cfg.d_model,)
    print(top_toxic_value_vectors(organism, probe, k=10).to_string(index=False))


def test_probe_held_out_accuracy_recomputed(organism, probe, probe_records):
    """The held-out rows (deduplicated, stratified 9:1 split, seed 0), each response run alone with
    a full cache, mean of the last block's residual output without the first token, classified
    with the probe's coef_ / intercept_: the same accuracy as probe.accuracy_."""
    texts, labels = [], []
    for rec in probe_records:
        for text, label in ((rec.unsafe_generation, 1), (rec.safe_generation, 0)):
            if (text, label) not in zip(texts, labels):
                texts.append(text)
                labels.append(label)
    y = np.array(labels)
    assert (len(y), 2 * len(probe_records) - len(y)) == (probe.n_train_ + probe.n_test_, probe.n_duplicates_)
    _, test = train_test_split(np.arange(len(y)), test_size=probe.n_test_, stratify=y, random_state=0)
    hook, n_ctx = resid_post(organism.cfg.n_layers - 1), organism.cfg.n_ctx
    rows = []
    with torch.no_grad():
        for i in test:
            ids = organism.tokenizer(texts[i], add_special_tokens=False)["input_ids"][-n_ctx:]
            _, cache = organism.run_with_cache(torch.tensor([ids]), names_filter=[hook])
            rows.append(cache[hook][0, 1:].double().mean(0).numpy())
    predicted = (np.stack(rows) @ probe.coef_ + probe.intercept_ > 0).astype(int)
    assert probe.accuracy_ == pytest.approx(float(np.mean(predicted == y[test])))


@pytest.mark.parametrize("method", LOCATE_METHODS)
def test_locate_over_the_test_split(organism, probe, method):
    test = load_dataset("organism", split="test")[::27]  # 30 of 810 records
    summary = locate_over(organism, test, method=method, progress=False)
    n_layers = organism.cfg.n_layers
    print(f"\n{method} on {len(test)} test records: {summary}")
    assert len(summary) == len(test) and sum(summary.layer_counts.values()) == len(test)
    assert summary.distances.shape == (len(test), n_layers) and torch.isfinite(summary.distances).all()
    chosen = summary.distances.argmax(dim=1).tolist()
    assert [loc.layer for loc in summary.localizations] == chosen
    assert summary.layer_counts == Counter(chosen)
    top = max(summary.layer_counts, key=summary.layer_counts.get)
    tox = region_toxicity(organism, probe, top)
    print(f"region toxicity of the most chosen layer {top}: mean {tox.mean:+.4f}, "
          f"top-{tox.k} mean {tox.top_k_mean:+.4f}")
    single = locate_toxic_layer(organism, test[0], method=method)
    torch.testing.assert_close(single.distances, summary.distances[0], rtol=1e-4, atol=1e-4)


def test_the_organism_is_bit_identical_after_probe_training_and_location(organism, pristine, probe):
    """Runs last: probe training (the `probe` fixture, after `pristine`), every locate method above
    and here, then every parameter and buffer compared with the copy taken before."""
    test = load_dataset("organism", split="test")[:3]
    for method in LOCATE_METHODS:
        locate_over(organism, test, method=method, progress=False)
        locate_toxic_layer(organism, test[0], method=method)
    assert_unchanged(organism, pristine)
