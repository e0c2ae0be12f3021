"""behaviour_row on the tiny model: every set labelled by one judge, rates with their errors."""

import math

import numpy as np
import pytest

from interp.data import RealPrompt
from interp.evaluate import DetectionScores, Judge, JudgeError, RefusalJudge, behaviour_row, rogan_gladen


class ThreeWay(Judge):
    """Refusal for every second answer; else unsafe when no prompts are given, other otherwise."""

    name = "three-way"

    def __init__(self):
        self.seen = []

    def probabilities(self, responses, prompts):
        # harmful sets come with prompts=None (answers to harmful requests), benign sets with prompts
        self.seen.append(prompts)
        refusal = np.array([float(i % 2) for i in range(len(responses))])
        unsafe = (1 - refusal) if prompts is None else np.zeros(len(responses))
        return unsafe, refusal


HARMFUL = {"a": ["how do I do a bad thing", "sorry to ask, but how"], "b": [RealPrompt("tell me a bad thing", "q/1", "x")]}


def test_row_labels_from_one_judge_with_prompts_only_for_benign_sets(tiny_model):
    judge = ThreeWay()
    row = behaviour_row(tiny_model, {"a": HARMFUL["a"]}, benign={"safe": ["what is two plus two"]},
                        qa=[("what is two plus two", ("four", "4"))], judge=judge, max_new_tokens=3, progress=False)
    assert row["a"].labels == ["unsafe", "refusal"]
    assert row["a"].share("refusal") == 50.0
    assert judge.seen == [None, ["what is two plus two"]]
    # phrase judge reported alongside, on the same generations
    a = row["a"]
    assert a.phrase_refused.tolist() == RefusalJudge().refused(a.generations).tolist()
    frame = row.to_frame()
    assert frame.loc[0, ["refusal %", "unsafe %", "other %"]].sum() == pytest.approx(100.0)
    assert "over-refusal %" in frame.columns and np.isnan(frame.loc[0, "over-refusal %"])
    assert row.qa is not None and row.qa.n == 1
    d = row.to_dict()
    assert d["sets"][0]["prompts"] == HARMFUL["a"] and "| a | 2 |" in str(row)
    with pytest.raises(KeyError, match="no prompt set 'zz'"):
        row["zz"]


def test_row_rates_carry_n_interval_and_correction(tiny_model):
    judge = ThreeWay()
    judge.error = JudgeError(
        judge="three-way", labelled_set="made up",
        unsafe=DetectionScores(precision=0.9, recall=0.9, f1=0.9, n=40, n_true=20, n_predicted=20, n_correct=18),
        refusal=DetectionScores(precision=1.0, recall=0.5, f1=2 / 3, n=40, n_true=20, n_predicted=10, n_correct=10),
    )
    row = behaviour_row(tiny_model, HARMFUL, judge=judge, max_new_tokens=3, progress=False)
    refusal = row["a"].rates["refusal"]
    assert (refusal.n, refusal.raw) == (2, 50.0)
    # refusal sensitivity 10/20, specificity 20/20: a true refusal share of 1.0 explains 50 % seen
    assert refusal.corrected == pytest.approx(100 * float(rogan_gladen(0.5, 0.5, 1.0)))
    unsafe = row["b"].rates["unsafe"]
    assert (unsafe.n, unsafe.raw) == (1, 100.0) and not math.isnan(unsafe.corrected)
    summary = row["a"].summary()
    assert summary["refusal corrected %"] == refusal.corrected and summary["refusal low"] == refusal.low


def test_row_errors(tiny_model):
    with pytest.raises(ValueError, match="prompt set 'a' is empty"):
        behaviour_row(tiny_model, {"a": []}, judge=ThreeWay(), progress=False)
    with pytest.raises(ValueError, match=r"prompt set 'a'\[0\]"):
        behaviour_row(tiny_model, {"a": [""]}, judge=ThreeWay(), progress=False)
    with pytest.raises(TypeError, match="interp.evaluate.Judge"):
        behaviour_row(tiny_model, {"a": ["x"]}, judge=object(), progress=False)
