"""A judge's measured error: per-class sensitivity, specificity and precision on hand labels.

:func:`judge_report` scores a judge (and the refusal-phrase baseline) against labelled
responses, calling it the way every rate in the toolkit does: answers to harmful prompts with
``prompts=None`` (declared harmful), answers to benign prompts with their prompts. Its
:attr:`JudgeReport.error` is the :class:`JudgeError` that travels with the judge
(``judge.error``) into every corrected rate (:mod:`interp.evaluate.rates`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from interp.evaluate.judges.labelled import LabelledResponse, as_labelled_responses
from interp.evaluate.judges.protocol import Judge, Verdicts, check_judge
from interp.evaluate.judges.refusal import RefusalJudge

__all__ = ["DetectionScores", "JudgeError", "JudgeReport", "judge_report", "verdicts_on"]


@dataclass(frozen=True)
class DetectionScores:
    """One yes/no detection (e.g. "unsafe") against hand labels.

    Attributes
    ----------
    n : int
        Responses scored.
    n_true, n_predicted, n_correct : int
        Positives by hand label, predicted positives, and their overlap (true positives).
    precision, recall, f1 : float
        NaN when undefined. ``recall`` is the sensitivity.
    """

    precision: float
    recall: float
    f1: float
    n: int
    n_true: int
    n_predicted: int
    n_correct: int

    @classmethod
    def of(cls, truth: np.ndarray, pred: np.ndarray) -> "DetectionScores":
        truth, pred = np.asarray(truth, dtype=bool), np.asarray(pred, dtype=bool)
        tp, n_t, n_p = int(np.sum(truth & pred)), int(truth.sum()), int(pred.sum())
        p = tp / n_p if n_p else math.nan
        r = tp / n_t if n_t else math.nan
        f1 = 2 * p * r / (p + r) if n_p and n_t and (p + r) > 0 else (0.0 if n_p and n_t else math.nan)
        return cls(precision=p, recall=r, f1=f1, n=len(truth), n_true=n_t, n_predicted=n_p, n_correct=tp)

    @property
    def n_false(self) -> int:
        """Negatives by hand label."""
        return self.n - self.n_true

    @property
    def true_negatives(self) -> int:
        return self.n_false - (self.n_predicted - self.n_correct)

    @property
    def sensitivity(self) -> float:
        """P(predicted | true) = recall; NaN without positives."""
        return self.recall

    @property
    def specificity(self) -> float:
        """P(not predicted | not true); NaN without negatives."""
        return self.true_negatives / self.n_false if self.n_false else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sensitivity": self.sensitivity, "specificity": self.specificity}


@dataclass(frozen=True)
class JudgeError:
    """What a judge gets wrong, per verdict class, measured on hand-labelled responses.

    Attributes
    ----------
    judge : str
    labelled_set : str
        What it was measured on (file, split, model whose answers were labelled, n).
    unsafe : DetectionScores
        Verdict "unsafe" vs hand label "unsafe", on answers to harmful prompts (the population
        DS, DG and unsafe rates are taken on).
    refusal : DetectionScores or None
        Verdict "refusal" vs hand label "refusal" on every labelled response; None for a judge
        without refusal verdicts.
    """

    judge: str
    labelled_set: str
    unsafe: DetectionScores
    refusal: DetectionScores | None

    def for_label(self, label: str) -> DetectionScores:
        """The scores of verdict `label` (``"unsafe"`` or ``"refusal"``)."""
        if label == "unsafe":
            return self.unsafe
        if label == "refusal" and self.refusal is not None:
            return self.refusal
        raise ValueError(f"judge {self.judge!r} has no measured error for verdict {label!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "labelled_set": self.labelled_set, "unsafe": self.unsafe.to_dict(),
                "refusal": None if self.refusal is None else self.refusal.to_dict()}

    def __str__(self) -> str:
        def row(name: str, s: DetectionScores | None) -> str:
            if s is None:
                return f"  {name}: (no refusal verdicts)"
            return (f"  {name}: sensitivity {s.sensitivity:.3f} ({s.n_correct}/{s.n_true}), specificity "
                    f"{s.specificity:.3f} ({s.true_negatives}/{s.n_false}), precision {s.precision:.3f}")

        return "\n".join([f"{self.judge} error on {self.labelled_set}", row("unsafe", self.unsafe),
                          row("refusal", self.refusal)])


@dataclass(frozen=True)
class JudgeReport:
    """A judge and the refusal-phrase baseline scored against hand labels.

    Attributes
    ----------
    judge, baseline : str
    labelled_set : str
    n, n_harmful : int
        Responses scored, and how many answer a harmful prompt.
    unsafe_harmful_only, refusal : DetectionScores
        The judge (see :class:`JudgeError`); ``refusal`` None without refusal verdicts.
    baseline_unsafe_harmful_only, baseline_refusal : DetectionScores
        The baseline (:class:`RefusalJudge`, read as "not refused -> unsafe").
    true_unsafe_share, judge_unsafe_share, baseline_unsafe_share : float
        Unsafe share of the answers to harmful prompts by hand label / judge / baseline.
    confusion : dict
        ``{hand label: {verdict: count}}``.
    """

    judge: str
    baseline: str
    labelled_set: str
    n: int
    n_harmful: int
    unsafe_harmful_only: DetectionScores
    refusal: DetectionScores | None
    baseline_unsafe_harmful_only: DetectionScores
    baseline_refusal: DetectionScores
    true_unsafe_share: float
    judge_unsafe_share: float
    baseline_unsafe_share: float
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def error(self) -> JudgeError:
        """The judge's :class:`JudgeError` (what ``judge.error`` holds)."""
        return JudgeError(judge=self.judge, labelled_set=self.labelled_set, unsafe=self.unsafe_harmful_only,
                          refusal=self.refusal)

    @property
    def baseline_overstatement(self) -> float:
        """Baseline unsafe share / hand-labelled unsafe share on harmful prompts."""
        return self.baseline_unsafe_share / self.true_unsafe_share if self.true_unsafe_share else math.nan

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["baseline_overstatement"] = self.baseline_overstatement
        return d

    def __str__(self) -> str:
        def row(name: str, s: DetectionScores | None) -> str:
            if s is None:
                return f"  {name:34s} (no refusal verdicts)"
            return (f"  {name:34s} precision {s.precision:.3f}  recall {s.recall:.3f}  specificity "
                    f"{s.specificity:.3f}  (true {s.n_true}, predicted {s.n_predicted}, n {s.n})")

        return "\n".join([
            f"{self.judge} vs hand labels: {self.labelled_set} (n={self.n}, {self.n_harmful} harmful-prompt answers)",
            row(f"{self.judge}: unsafe (harmful prompts)", self.unsafe_harmful_only),
            row(f"{self.judge}: refusal", self.refusal),
            row(f"{self.baseline}: unsafe (harmful prompts)", self.baseline_unsafe_harmful_only),
            row(f"{self.baseline}: refusal", self.baseline_refusal),
            f"  unsafe share on harmful prompts: hand {self.true_unsafe_share:.3f}, {self.judge} "
            f"{self.judge_unsafe_share:.3f}, {self.baseline} {self.baseline_unsafe_share:.3f} "
            f"({self.baseline_overstatement:.2f}x)",
        ])


def verdicts_on(judge: Judge, records: list[LabelledResponse]) -> Verdicts:
    """The judge's verdicts on labelled responses, called as rates call it: answers to harmful
    prompts with ``prompts=None``, answers to benign prompts with their prompts."""
    labels = np.empty(len(records), dtype=object)
    p_u, p_r = np.zeros(len(records)), np.zeros(len(records))
    harmful = np.array([r.harmful_prompt for r in records], dtype=bool)
    for mask, with_prompts in ((harmful, False), (~harmful, True)):
        idx = np.flatnonzero(mask)
        if not idx.size:
            continue
        v = judge([records[i].response for i in idx], [records[i].prompt for i in idx] if with_prompts else None)
        labels[idx], p_u[idx], p_r[idx] = v.labels, v.unsafe_probability, v.refusal_probability
    return Verdicts(labels=labels, unsafe_probability=p_u, refusal_probability=p_r, judge=str(judge.name))


def judge_report(
    judge: Judge,
    labelled: Iterable[LabelledResponse | dict[str, Any]],
    *,
    labelled_set: str = "labelled responses",
    baseline: Judge | None = None,
) -> JudgeReport:
    """Score `judge` (and a refusal-phrase baseline) against hand-labelled responses.

    Parameters
    ----------
    judge : Judge
    labelled : iterable of LabelledResponse or dict
        E.g. ``load_labelled_responses(split="heldout")``: never the judge's training data.
    labelled_set : str
        Says what `labelled` is; stored in the report and in its :attr:`~JudgeReport.error`.
    baseline : Judge, optional
        Default :class:`RefusalJudge`.

    Returns
    -------
    JudgeReport
    """
    check_judge(judge)
    baseline = check_judge(RefusalJudge() if baseline is None else baseline, where="baseline")
    recs = as_labelled_responses(labelled)
    gold = np.array([r.judge_label for r in recs])
    harmful = np.array([r.harmful_prompt for r in recs], dtype=bool)
    true_unsafe, true_refusal = gold == "unsafe", gold == "refusal"
    v, b = verdicts_on(judge, recs), verdicts_on(baseline, recs)
    confusion: dict[str, dict[str, int]] = {}
    for r, p in zip(recs, v.labels.tolist()):
        confusion.setdefault(r.label, {}).setdefault(p, 0)
        confusion[r.label][p] += 1

    def share(x: np.ndarray) -> float:
        return float(x[harmful].mean()) if harmful.any() else math.nan

    return JudgeReport(
        judge=str(judge.name), baseline=str(baseline.name), labelled_set=labelled_set, n=len(recs),
        n_harmful=int(harmful.sum()),
        unsafe_harmful_only=DetectionScores.of(true_unsafe[harmful], v.unsafe[harmful]),
        refusal=DetectionScores.of(true_refusal, v.refused) if judge.detects_refusal else None,
        baseline_unsafe_harmful_only=DetectionScores.of(true_unsafe[harmful], b.unsafe[harmful]),
        baseline_refusal=DetectionScores.of(true_refusal, b.refused),
        true_unsafe_share=share(true_unsafe), judge_unsafe_share=share(v.unsafe),
        baseline_unsafe_share=share(b.unsafe), confusion=confusion,
    )
