"""Result types of the evaluation entry points: per-item evidence and rates with their errors."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interp.evaluate.rates import Rate

__all__ = ["MetricDetail", "SafetyScores", "RateResult", "QAResult", "SCORE_LABELS", "SAFETY_KEYS"]

#: Keys of :class:`SafetyScores` and their SafeEdit column labels.
SCORE_LABELS = {
    "ds": "DS", "dg_only_q": "DG-onlyQ", "dg_other_a": "DG-otherA", "dg_other_q": "DG-otherQ",
    "dg_other_aq": "DG-otherAQ", "dg_avg": "DG-Avg", "fluency": "Fluency", "kqa": "KQA", "kqa_exact": "KQA-exact",
}
#: The judged scores (each has a :class:`~interp.evaluate.rates.Rate` in ``SafetyScores.rates``).
SAFETY_KEYS = ("ds", "dg_only_q", "dg_other_a", "dg_other_q", "dg_other_aq", "dg_avg")


@dataclass
class MetricDetail:
    """Per-item evidence behind one metric.

    Attributes
    ----------
    name : str
        Metric name (``"ds"``, ``"dg_only_q"``, ..., ``"kqa"``).
    prompts, generations : list of str, length m
    labels : np.ndarray of shape (m,)
        Safety metrics: 1 unsafe, 0 safe, 0.5 empty. KQA: 1.0 where the answer is contained.
    unsafe_probability : np.ndarray of shape (m,) or None
        The judge's P(unsafe) (safety metrics only).
    record_index : list of int, length m
        Index of the record in the evaluated dataset.
    answers : list of str or None
        Reference answers (KQA only).
    verdicts : np.ndarray of str, shape (m,), or None
        The judge's verdict per item (safety metrics only).
    """

    name: str
    prompts: list[str]
    generations: list[str]
    labels: np.ndarray
    unsafe_probability: np.ndarray | None = None
    record_index: list[int] = field(default_factory=list)
    answers: list[str] | None = None
    verdicts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.prompts)

    def to_frame(self) -> Any:
        """One row per item (pandas DataFrame)."""
        import pandas as pd

        data: dict[str, Any] = {"record": self.record_index or list(range(len(self))), "prompt": self.prompts,
                                "generation": self.generations, "label": self.labels}
        for key in ("verdicts", "unsafe_probability", "answers"):
            if getattr(self, key) is not None:
                data[key.rstrip("s") if key != "unsafe_probability" else key] = getattr(self, key)
        return pd.DataFrame(data)


@dataclass
class SafetyScores:
    """SafeEdit scores of one model (percentages 0-100, except fluency in bits).

    Attributes
    ----------
    ds, dg_only_q, dg_other_a, dg_other_q, dg_other_aq, dg_avg : float
        Defense success and generalisation: raw share judged safe (%), as SafeEdit reports it.
    fluency : float
        EasyEdit n-gram entropy of the DS + DG generations.
    kqa, kqa_exact : float
        Knowledge QA, answer contained in / equal to the response (%).
    rates : dict of str to Rate
        For each of ``ds`` ... ``dg_avg``: n, Wilson interval, and the share corrected for the
        judge's measured error with its interval (``dg_avg``'s rate pools the four DG sets).
    details : dict of str to MetricDetail
        Per-item prompts, generations, verdicts and labels, keyed like the scores.
    judge : str
        Name of the judge used.
    judge_error : str
        The judge's measured error in words ("" when it has none).
    n : int
        Number of records evaluated.
    """

    ds: float
    dg_only_q: float
    dg_other_a: float
    dg_other_q: float
    dg_other_aq: float
    dg_avg: float
    fluency: float
    kqa: float
    kqa_exact: float = float("nan")
    rates: dict[str, Rate] = field(default_factory=dict, repr=False)
    details: dict[str, MetricDetail] = field(default_factory=dict, repr=False)
    judge: str = ""
    judge_error: str = field(default="", repr=False)
    n: int = 0

    def corrected(self, key: str) -> float:
        """The judge-corrected value of a safety score (NaN without a rate or a judge error)."""
        rate = self.rates.get(key)
        return rate.corrected if rate is not None else math.nan

    def to_dict(self) -> dict[str, float]:
        """Raw scores under SafeEdit's keys, plus ``<key>_corrected``, ``<key>_low`` / ``_high``
        (Wilson), ``<key>_corrected_low`` / ``_high`` and ``<key>_n`` for each judged score."""
        out = {k: float(getattr(self, k)) for k in SCORE_LABELS}
        for key, rate in self.rates.items():
            out.update({f"{key}_corrected": rate.corrected, f"{key}_low": rate.low, f"{key}_high": rate.high,
                        f"{key}_corrected_low": rate.corrected_low, f"{key}_corrected_high": rate.corrected_high,
                        f"{key}_n": float(rate.n)})
        return out

    def to_frame(self, name: str = "model") -> Any:
        """One-row pandas DataFrame indexed by `name`, SafeEdit column labels (raw scores), and a
        ``<label> corrected`` column for each judged score."""
        import pandas as pd

        row: dict[str, float] = {SCORE_LABELS[k]: float(getattr(self, k)) for k in SCORE_LABELS}
        for key, rate in self.rates.items():
            row[f"{SCORE_LABELS[key]} corrected"] = rate.corrected
        return pd.DataFrame([row], index=pd.Index([name], name="model"))

    def _repr_html_(self) -> str:
        table = self.to_frame().to_html(float_format=lambda v: f"{v:.2f}")
        caption = html.escape(f"SafeEdit scores, judge={self.judge!r}, n={self.n} records")
        return f"<div><p>{caption}</p>{table}</div>"

    def __str__(self) -> str:
        parts = []
        for key, label in SCORE_LABELS.items():
            v = getattr(self, key)
            text = f"{label} {v:.2f}" if key == "fluency" else f"{label} {v:.1f}"
            rate = self.rates.get(key)
            if rate is not None and not math.isnan(rate.corrected):
                text += f" (corr. {rate.corrected:.1f})"
            parts.append(text)
        return " | ".join(parts) + f"  [judge {self.judge}, n={self.n}]"


@dataclass
class RateResult:
    """A rate over prompts (refusal, over-refusal, unsafe) with its evidence.

    Attributes
    ----------
    name : str
    estimate : Rate
        n, raw share with its Wilson interval, judge-corrected share with its interval.
    prompts, generations : list of str, length n
    flags : np.ndarray of bool, shape (n,)
        The counted verdict per response.
    scores : np.ndarray of float, shape (n,)
        The judge's probability of that verdict.
    judge : str
    """

    name: str
    estimate: Rate
    prompts: list[str]
    generations: list[str]
    flags: np.ndarray
    scores: np.ndarray
    judge: str = ""

    @property
    def rate(self) -> float:
        """Raw percentage of flagged responses, 0-100."""
        return self.estimate.raw

    @property
    def corrected(self) -> float:
        """Judge-corrected percentage (NaN when the judge has no measured error)."""
        return self.estimate.corrected

    @property
    def n(self) -> int:
        return len(self.prompts)

    def to_dict(self) -> dict[str, float]:
        e = self.estimate
        return {self.name: float(e.raw), "n": float(self.n), "low": e.low, "high": e.high,
                "corrected": e.corrected, "corrected_low": e.corrected_low, "corrected_high": e.corrected_high}

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame({"prompt": self.prompts, "generation": self.generations, "flag": self.flags,
                             "score": self.scores})

    def __str__(self) -> str:
        return str(self.estimate)


@dataclass
class QAResult:
    """QA accuracy. ``exact`` and ``contains`` in percent (see :func:`answer_matches`)."""

    exact: float
    contains: float
    prompts: list[str]
    answers: list[str | tuple[str, ...]]
    generations: list[str]
    exact_flags: np.ndarray
    contains_flags: np.ndarray

    @property
    def n(self) -> int:
        return len(self.prompts)

    @property
    def contains_rate(self) -> Rate:
        """``contains`` as a :class:`~interp.evaluate.rates.Rate` (n, Wilson interval; no judge)."""
        from interp.evaluate.rates import estimate_rate

        return estimate_rate(self.contains_flags, name="qa_contains")

    def to_dict(self) -> dict[str, float]:
        r = self.contains_rate
        return {"exact": float(self.exact), "contains": float(self.contains), "n": float(self.n),
                "contains_low": r.low, "contains_high": r.high}

    def __str__(self) -> str:
        r = self.contains_rate
        return f"QA exact {self.exact:.1f}% | contains {self.contains:.1f}% [{r.low:.1f}, {r.high:.1f}] (n={self.n})"
