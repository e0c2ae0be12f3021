"""dinm_sweep / layer_sweep on the tiny model: one row per (record, setting), locators, intervals."""

from __future__ import annotations

import math

import pytest

import interp
from interp.edits import dinm_sweep, layer_sweep
from interp.intervals import mean_interval

pytestmark = [pytest.mark.filterwarnings("ignore:text #.*dropped:UserWarning"),
              pytest.mark.filterwarnings("ignore:judging .* with the real-text judge:UserWarning")]


@pytest.fixture(scope="module")
def records():
    return interp.load_dataset("organism", split="test")[:2]


def test_layer_sweep_rows_locators_and_tables(tiny_model, records):
    sweep = layer_sweep(tiny_model, records, layers=[0, 1], locators=("response_mean", "easyedit"), steps=2,
                        lr=1e-2, max_new_tokens=8, progress=False)
    frame = sweep.to_frame()
    assert len(frame) == 4 and sorted(set(frame["layer"])) == [0, 1]
    assert set(sweep.located) == {"response_mean", "easyedit"}
    assert all(len(v) == 2 and all(0 <= l_ < tiny_model.cfg.n_layers for l_ in v) for v in sweep.located.values())
    for col in ("refusal_gen_before", "refusal_gen_after", "unsafe_adv_after", "kqa", "seconds"):
        assert frame[col].between(0, 100).all() or col == "seconds", col
    # the "before" measures are the same unedited answers for every setting of a record
    assert frame.groupby("record")["refusal_gen_before"].nunique().eq(1).all()
    summary = sweep.summary()
    assert list(summary["layer"]) == [0, 1] and (summary["n_records"] == 2).all()
    rates = sweep.pooled_rates()
    gen = rates[(rates["setting"] == "before") & (rates["rate"] == "refusal_gen")].iloc[0]
    assert gen["n"] == 4 * len(records) and 0 <= gen["raw"] <= 100 and gen["low"] <= gen["raw"] <= gen["high"]
    table = sweep.located_vs_best()
    assert set(table["locator"]) == {"response_mean", "easyedit"} and (table["best_layer"].isin([0, 1])).all()
    fig = sweep.figure()
    assert len(fig.data) >= 4


def test_dinm_sweep_grid_and_errors(tiny_model, records):
    sweep = dinm_sweep(tiny_model, records[:1], {"lr": [1e-3, 1e-2]}, layer=1, steps=1, max_new_tokens=4,
                       progress=False)
    assert list(sweep.summary()["lr"]) == [1e-3, 1e-2] and set(sweep.to_frame()["layer"]) == {1}
    with pytest.raises(ValueError, match="located_vs_best"):
        sweep.located_vs_best()
    with pytest.raises(TypeError, match="'lrr' is not a DINM option"):
        dinm_sweep(tiny_model, records, {"lrr": [1.0]}, progress=False)
    with pytest.raises(ValueError, match=r"layers \[9\] are outside"):
        layer_sweep(tiny_model, records, layers=[9], progress=False)
    with pytest.raises(ValueError, match="unknown locator"):
        dinm_sweep(tiny_model, records, {"lr": [1e-3]}, locators=("deepest",), progress=False)


def test_mean_interval_is_a_t_interval():
    mean, low, high = mean_interval([0.0, 10.0, 20.0])
    assert mean == 10 and low == pytest.approx(10 - 4.302653 * 10 / math.sqrt(3), rel=1e-5)
    assert high - mean == pytest.approx(mean - low)
    assert math.isnan(mean_interval([5.0])[1]) and math.isnan(mean_interval([])[0])
