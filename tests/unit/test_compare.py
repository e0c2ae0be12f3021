"""compare_mechanisms end to end on the tiny GPT-2 (real edits, real judge, tiny settings), its
claims and report; the intervals it uses, checked for coverage on simulated data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import interp
from interp.compare import PROFILES, compare_mechanisms
from interp.intervals import difference_interval, mean_interval, rate_difference_interval

pytestmark = pytest.mark.filterwarnings("ignore:text #.*dropped:UserWarning")

FAST = {"sft": {"steps": 2, "batch_size": 2}, "dpo": {"steps": 2, "batch_size": 2},
        "vaccine": {"steps": 2, "batch_size": 2}, "dinm": {"steps": 2}}


@pytest.fixture(scope="module")
def comparison(tiny_model):
    """A profile of its own for the tiny model (the extension point for a new model's settings)."""
    records = interp.load_dataset("organism", split="test")[:14]
    PROFILES[tiny_model.cfg.model_name] = {
        "methods": FAST, "attack": {"steps": 2, "n_samples": 6, "harmful_ratio": 0.5, "batch_size": 2},
        "keys": {"k": 2}, "n_eval": 4, "n_benign": 8, "probe_records": None, "max_new_tokens": 8,
        "layer_sweep": False}
    try:
        return compare_mechanisms(tiny_model, ("dinm", "sft", "dpo", "vaccine"), dataset=records, n_instances=2,
                                  progress=False)
    finally:
        del PROFILES[tiny_model.cfg.model_name]


def test_rows_cover_every_run_and_the_base(comparison, tiny_model):
    t = comparison.table
    assert list(t["method"]) == ["base", "dinm", "dinm", "sft", "dpo", "vaccine"]
    base = t.iloc[0]
    # the base is its own zero edit: every shift is zero by construction
    assert base["flow_total"] == 0 and base["weight_diff_total"] == 0 and base["params_changed"] == 0
    for _, row in t.iterrows():
        assert row["ds_low"] <= row["ds"] <= row["ds_high"] and row["ds_n"] == 4
        assert row["over_refusal_n"] == 8
        terms = row["flow_activation_term"] + row["flow_weight_term"] + row["flow_cross_term"]
        assert terms == pytest.approx(row["flow_total"], rel=1e-5, abs=1e-9)
    dinm = t[t["method"] == "dinm"]
    # DINM trains one W_out: nothing flows differently into its own region
    assert (dinm["params_changed"] == 1).all() and (dinm["flow_activation_term"] == 0).all()
    assert (t[t["method"] == "sft"]["params_changed"] == len(list(tiny_model.parameters()))).all()
    assert {"attack_ds", "keys_ds", "hed", "hed_vaccine"} <= set(t.columns)


def test_summary_claims_and_json(comparison, tmp_path):
    s = comparison.summary()
    assert list(s["method"]) == ["base", "dinm", "sft", "dpo", "vaccine"]
    dinm = s[s["method"] == "dinm"].iloc[0]
    assert dinm["n_runs"] == 2 and (math.isnan(dinm["ds_low"]) or dinm["ds_low"] <= dinm["ds"])
    claims = comparison.claims
    assert len(claims) >= 8
    assert set(claims["status"]) <= {"holds", "does not hold", "inconclusive", "not measured"}
    located = claims[claims["claim"].str.startswith("The located layer")].iloc[0]
    assert located["status"] == "not measured"  # no layer sweep on a non-organism model by default
    diffs = comparison.differences()
    assert set(diffs["method"]) == {"dinm", "sft", "dpo", "vaccine"} and {"ds", "attack_ds", "keys_ds"} <= set(
        diffs["metric"])
    ok = diffs.dropna()
    assert ((ok["low"] <= ok["difference"]) & (ok["difference"] <= ok["high"])).all()
    data = json.loads(comparison.to_json(tmp_path / "c.json").read_text())
    assert len(data["rows"]) == 6 and data["meta"]["n_instances"] == 2 and data["claims"]


def test_key_scaling_claim_says_nothing_when_the_scaled_model_is_broken(comparison):
    from interp.compare.claims import evaluate_claims
    from interp.evaluate.rates import wilson_interval

    def key_claim(table):
        claims = evaluate_claims(table, comparison.details, None)
        return next(c for c in claims if c.claim.startswith("Scaling the toxic keys"))

    table = comparison.table.copy()
    dpo = table["method"] == "dpo"
    table.loc[dpo, "keys_fluency"] = table.loc[dpo, "fluency"]
    n = int(table.loc[dpo, "ds_n"].iloc[0])
    (hi_low, hi_high), (lo_low, lo_high) = wilson_interval(n, n), wilson_interval(0, n)
    table.loc[dpo, ["ds", "ds_low", "ds_high"]] = [100.0, 100 * hi_low, 100 * hi_high]  # a clear fall,
    table.loc[dpo, ["keys_ds", "keys_ds_low", "keys_ds_high"]] = [0.0, 100 * lo_low, 100 * lo_high]  # intact text
    assert key_claim(table).status == "holds" and "broken" not in key_claim(table).evidence
    table.loc[dpo, "keys_fluency"] = 0.1 * table.loc[dpo, "fluency"]  # SmolLM2 at x10: 5.0 -> 0.7
    claim = key_claim(table)
    assert claim.status == "inconclusive" and "broken" in claim.evidence


def test_report_is_self_contained_and_escapes_generations(comparison, tmp_path):
    comparison.samples["sft"] = [("say <b>hi</b>", "<script>alert('x')</script> & done")]
    path = comparison.to_html(tmp_path / "report.html")
    html = path.read_text()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; done" in html
    assert "<script>alert(" not in html and "say &lt;b&gt;hi&lt;/b&gt;" in html
    assert '<script src="http' not in html and html.count("Plotly.newPlot") >= 6  # plotly.js inline
    for title in ("Information flow into the region", "Permanence", "Harmful embedding drift"):
        assert title in html


def test_unknown_method_is_a_clear_error(tiny_model):
    with pytest.raises(ValueError, match=r"unknown detox methods \['harmful_finetune'\]"):
        compare_mechanisms(tiny_model, ("sft", "harmful_finetune"), progress=False)


def test_intervals_cover_the_truth_at_the_nominal_rate():
    rng = np.random.default_rng(0)
    hits_mean = hits_diff = 0
    runs = 2000
    for _ in range(runs):
        a, b = rng.normal(1.0, 2.0, 5), rng.normal(0.0, 1.0, 7)
        _, lo, hi = mean_interval(a)
        hits_mean += lo <= 1.0 <= hi
        _, lo, hi = difference_interval(a, b)
        hits_diff += lo <= 1.0 <= hi
    assert 0.93 <= hits_mean / runs <= 0.97
    assert 0.93 <= hits_diff / runs <= 0.97
    # Newcombe's difference of two Wilson intervals, n = 60 each, true rates 0.7 and 0.5
    from interp.evaluate.rates import wilson_interval

    hits = 0
    for _ in range(runs):
        k1, k2 = rng.binomial(60, 0.7), rng.binomial(60, 0.5)
        l1, h1 = wilson_interval(k1, 60)
        l2, h2 = wilson_interval(k2, 60)
        _, lo, hi = rate_difference_interval(k1 / 60, l1, h1, k2 / 60, l2, h2)
        hits += lo <= 0.2 <= hi
    assert 0.93 <= hits / runs <= 0.975
    assert math.isnan(mean_interval([1.0])[1]) and math.isnan(difference_interval([1.0], [2.0])[1])
