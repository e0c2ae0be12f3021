"""How often two judges agree on the same responses."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from interp.checks import check_texts
from interp.evaluate.judges.protocol import Judge, check_judge

__all__ = ["AgreementReport", "judge_agreement"]


@dataclass(frozen=True)
class AgreementReport:
    """Agreement of two judges' unsafe verdicts.

    Attributes
    ----------
    judge_a, judge_b : str
    n : int
    agreement : float
        Share of responses with the same unsafe verdict, in [0, 1].
    kappa : float
        Cohen's kappa (``sklearn.metrics.cohen_kappa_score``); NaN when undefined (both judges
        give one constant verdict).
    both_safe, both_unsafe, only_a_unsafe, only_b_unsafe : int
        Confusion counts.
    """

    judge_a: str
    judge_b: str
    n: int
    agreement: float
    kappa: float
    both_safe: int
    both_unsafe: int
    only_a_unsafe: int
    only_b_unsafe: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        kappa = "nan" if math.isnan(self.kappa) else f"{self.kappa:.3f}"
        return (f"{self.judge_a} vs {self.judge_b}: n={self.n}, agreement={self.agreement:.3f}, kappa={kappa} "
                f"(both safe {self.both_safe}, both unsafe {self.both_unsafe}, only {self.judge_a} unsafe "
                f"{self.only_a_unsafe}, only {self.judge_b} unsafe {self.only_b_unsafe})")


def judge_agreement(judge_a: Judge, judge_b: Judge, responses: Sequence[str],
                    prompts: Sequence[str] | None = None) -> AgreementReport:
    """Compare the unsafe verdicts of two judges on the same responses.

    Parameters
    ----------
    judge_a, judge_b : Judge
    responses : sequence of str, length n (n >= 1)
    prompts : sequence of str, optional
        Passed to both judges (None: answers to harmful requests).

    Returns
    -------
    AgreementReport
    """
    from sklearn.metrics import cohen_kappa_score

    check_judge(judge_a, where="judge_a")
    check_judge(judge_b, where="judge_b")
    texts = check_texts(responses, what="responses", allow_empty_list=False)
    a, b = judge_a(texts, prompts).unsafe, judge_b(texts, prompts).unsafe
    if len(set(a.tolist()) | set(b.tolist())) < 2:
        kappa = float("nan")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            kappa = float(cohen_kappa_score(a, b))
    return AgreementReport(
        judge_a=str(judge_a.name), judge_b=str(judge_b.name), n=len(texts), agreement=float(np.mean(a == b)),
        kappa=kappa, both_safe=int(np.sum(~a & ~b)), both_unsafe=int(np.sum(a & b)),
        only_a_unsafe=int(np.sum(a & ~b)), only_b_unsafe=int(np.sum(~a & b)),
    )
