"""Rates: Wilson intervals, Rogan-Gladen correction, and the corrected interval's coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from interp.evaluate import DetectionScores, Rate, estimate_rate, rogan_gladen, wilson_interval


def _error(sensitivity_hits: int, n_pos: int, specificity_hits: int, n_neg: int) -> DetectionScores:
    fp = n_neg - specificity_hits
    return DetectionScores(precision=math.nan, recall=sensitivity_hits / n_pos, f1=math.nan, n=n_pos + n_neg,
                           n_true=n_pos, n_predicted=sensitivity_hits + fp, n_correct=sensitivity_hits)


def test_wilson_interval_against_the_closed_form():
    # Wilson (1927): (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), by hand for 3 of 20
    z, n, p = 1.959963984540054, 20, 0.15
    centre, half = (p + z * z / 40) / (1 + z * z / 20), z * math.sqrt(p * 0.85 / 20 + z * z / 1600) / (1 + z * z / 20)
    assert wilson_interval(3, 20) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_rogan_gladen_inverts_the_judge():
    # a judge with sensitivity 0.7, specificity 0.9 sees 0.7 * 0.4 + 0.1 * 0.6 = 0.34 for a true 0.4
    assert float(rogan_gladen(0.34, 0.7, 0.9)) == pytest.approx(0.4)
    assert float(rogan_gladen(0.05, 0.7, 0.9)) == 0.0  # clipped
    assert math.isnan(float(rogan_gladen(0.3, 0.5, 0.5)))  # a judge no better than chance


def test_estimate_rate_fields_and_complement():
    flags = np.array([True] * 3 + [False] * 7)
    r = estimate_rate(flags, name="unsafe", verdict="unsafe", judge="j", error=_error(80, 100, 180, 200),
                      error_source="made-up set")
    assert (r.n, r.k, r.raw) == (10, 3.0, pytest.approx(30.0))
    assert (r.low, r.high) == pytest.approx(tuple(100 * x for x in wilson_interval(3, 10)))
    assert r.corrected == pytest.approx(100 * (0.3 + 0.9 - 1) / (0.8 + 0.9 - 1))
    assert r.corrected_low < r.corrected < r.corrected_high and "made-up set" in r.correction
    safe = r.complemented("ds")
    assert (safe.raw, safe.corrected, safe.low) == (pytest.approx(70.0), pytest.approx(100 - r.corrected),
                                                    pytest.approx(100 - r.high))
    assert isinstance(safe, Rate) and safe.complement and "corrected" in str(safe)
    # same seed, same numbers
    again = estimate_rate(flags, name="unsafe", verdict="unsafe", judge="j", error=_error(80, 100, 180, 200))
    assert (again.corrected_low, again.corrected_high) == (r.corrected_low, r.corrected_high)
    # no error: raw only
    assert math.isnan(estimate_rate(flags, name="x").corrected)
    with pytest.raises(ValueError, match="neutral"):
        estimate_rate(flags, name="x", neutral=[True])


def test_corrected_interval_covers_the_true_rate_and_the_raw_one_does_not():
    """1,000 simulated evaluations: true unsafe share 0.4, a judge with sensitivity 0.7 and
    specificity 0.9, 400 judged answers, its error measured on 100 + 200 labelled answers."""
    rng = np.random.default_rng(2026)
    truth, se, sp, n, n_pos, n_neg = 0.4, 0.7, 0.9, 400, 100, 200
    covered = covered_raw = 0
    runs = 1000
    for run in range(runs):
        unsafe = rng.random(n) < truth
        flags = np.where(unsafe, rng.random(n) < se, rng.random(n) > sp)
        error = _error(int(rng.binomial(n_pos, se)), n_pos, int(rng.binomial(n_neg, sp)), n_neg)
        r = estimate_rate(flags, name="unsafe", verdict="unsafe", error=error, seed=run, n_bootstrap=1000)
        covered += r.corrected_low <= 100 * truth <= r.corrected_high
        covered_raw += r.low <= 100 * truth <= r.high
    assert 0.92 <= covered / runs <= 0.98, covered / runs
    assert covered_raw / runs < 0.5, covered_raw / runs


def test_corrected_interval_does_not_collapse_when_every_verdict_is_the_same():
    # no refusal among 37 answers, judge sensitivity 17/17, specificity 107/108: the true share
    # is small but not known to be 0 (binomial redraws of 0/37 would give the point [0, 0])
    r = estimate_rate(np.zeros(37, dtype=bool), name="refusal", verdict="refusal", error=_error(17, 17, 107, 108))
    assert r.corrected == 0.0 and r.corrected_high > 2.0
    assert r.high == pytest.approx(100 * wilson_interval(0, 37)[1])
