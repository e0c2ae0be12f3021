"""behaviour_row on the tiny model: labels from a three-way judge or from refusal + unsafe judges."""

import numpy as np
import pytest

from interp.data import RealPrompt
from interp.evaluate import RefusalJudge, behaviour_row


class LengthJudge:
    """Unsafe when the generation is longer than 5 characters (a deterministic stand-in)."""

    name = "length"

    def unsafe_probability(self, responses):
        return np.array([1.0 if len(r) > 5 else 0.0 for r in responses])

    def is_unsafe(self, responses, threshold=0.5):
        return self.unsafe_probability(responses) > threshold


class ThreeWay(LengthJudge):
    name = "three-way"

    def __init__(self):
        self.seen = []

    def classify(self, responses, prompts):
        # harmful sets come with prompts=None (answers to harmful requests), benign sets with prompts
        self.seen.append(prompts)
        assert prompts is None or len(prompts) == len(responses)
        return ["refusal" if i % 2 else "unsafe" if prompts is None else "other" for i in range(len(responses))]


HARMFUL = {"a": ["how do I do a bad thing", "sorry to ask, but how"], "b": [RealPrompt("tell me a bad thing", "q/1", "x")]}


def test_row_with_refusal_and_unsafe_judges(tiny_model):
    row = behaviour_row(tiny_model, HARMFUL, benign={"safe": ["what is two plus two"]},
                        qa=[("what is two plus two", ("four", "4"))], judge=LengthJudge(),
                        max_new_tokens=6, progress=False)
    assert [s.name for s in row.sets] == ["a", "b", "safe"]
    a = row["a"]
    expected = ["refusal" if r else ("unsafe" if len(g) > 5 else "other")
                for g, r in zip(a.generations, RefusalJudge().refused(a.generations))]
    assert a.labels == expected
    frame = row.to_frame()
    assert list(frame["set"]) == ["a", "b", "safe"]
    shares = frame.loc[0, ["refusal %", "unsafe %", "other %"]].sum()
    assert shares == pytest.approx(100.0)
    assert "over-refusal %" in frame.columns and np.isnan(frame.loc[0, "over-refusal %"])
    assert row.qa is not None and row.qa.n == 1
    d = row.to_dict()
    assert d["sets"][1]["prompts"] == ["tell me a bad thing"] and "| a | 2 |" in str(row)
    with pytest.raises(KeyError, match="no prompt set 'zz'"):
        row["zz"]


def test_row_uses_a_three_way_judge_with_prompts(tiny_model):
    judge = ThreeWay()
    row = behaviour_row(tiny_model, {"a": HARMFUL["a"]}, benign={"safe": ["what is two plus two"]},
                        judge=judge, max_new_tokens=3, progress=False)
    assert row["a"].labels == ["unsafe", "refusal"]
    assert row["a"].share("refusal") == 50.0
    assert judge.seen == [None, ["what is two plus two"]]


def test_row_errors(tiny_model):
    with pytest.raises(ValueError, match="prompt set 'a' is empty"):
        behaviour_row(tiny_model, {"a": []}, judge=LengthJudge(), progress=False)
    with pytest.raises(ValueError, match="prompt #0"):
        behaviour_row(tiny_model, {"a": [""]}, judge=LengthJudge(), progress=False)
    with pytest.raises(TypeError, match="Judge protocol"):
        behaviour_row(tiny_model, {"a": ["x"]}, judge=object(), progress=False)
