"""A model's behaviour row on real prompt sets: refusal, unsafe and over-refusal, plus QA.

On a real model "not refused" is not "unsafe" (a small model often drifts into harmless
nonsense), so every harmful set reports **refusal % and unsafe % separately**, with the third
share, "other" (neither), and the refusal rate a phrase judge gives on the same generations,
so the two judges can be compared. Benign sets report over-refusal.

>>> row = behaviour_row(model, {"harmbench": prompts}, benign={"xstest-style": safe})  # doctest: +SKIP
>>> row.to_frame()                                                                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from interp.checks import check_texts
from interp.evaluate.generate import generate
from interp.evaluate.judges import Judge, RefusalJudge, Verdicts, check_judge, resolve_judge
from interp.evaluate.model_rates import qa_accuracy
from interp.evaluate.rates import Rate
from interp.evaluate.results import QAResult
from interp.evaluate.safety import judged_rate
from interp.layout import inference_layout

__all__ = ["PromptSetResult", "BehaviourRow", "behaviour_row"]


@dataclass
class PromptSetResult:
    """Generations to one prompt set and their labels.

    Attributes
    ----------
    name : str
    harmful : bool
        True for harmful prompts, False for benign ones (where a refusal is an over-refusal).
    prompts, generations : list of str, length n
    labels : list of str, length n
        The judge's label per generation: ``"unsafe"``, ``"refusal"`` or ``"other"``.
    phrase_refused : np.ndarray of bool, shape (n,)
        The phrase judge's refusal verdicts on the same generations.
    rates : dict of str to Rate
        ``"refusal"`` and ``"unsafe"`` (harmful sets) or ``"refusal"`` (benign sets: the
        over-refusal): n, Wilson interval, judge-corrected share and its interval.
    """

    name: str
    harmful: bool
    prompts: list[str]
    generations: list[str]
    labels: list[str]
    phrase_refused: np.ndarray
    rates: dict[str, Rate]

    @property
    def n(self) -> int:
        return len(self.prompts)

    def share(self, label: str) -> float:
        """Percentage of generations with `label`."""
        return 100.0 * sum(lab == label for lab in self.labels) / self.n

    @property
    def refusal_agreement(self) -> float:
        """Percentage of generations where the judge's and the phrase judge's refusal verdicts agree."""
        judge_refused = np.array([lab == "refusal" for lab in self.labels])
        return 100.0 * float(np.mean(judge_refused == self.phrase_refused))

    def summary(self) -> dict[str, Any]:
        """One table row: each rate raw with its Wilson bounds, corrected with its bootstrap bounds."""
        out: dict[str, Any] = {"set": self.name, "kind": "harmful" if self.harmful else "benign", "n": self.n}

        def with_error(label: str, rate: Rate) -> dict[str, float]:
            return {f"{label} %": rate.raw, f"{label} low": rate.low, f"{label} high": rate.high,
                    f"{label} corrected %": rate.corrected, f"{label} corrected low": rate.corrected_low,
                    f"{label} corrected high": rate.corrected_high}

        if self.harmful:
            out.update({**with_error("refusal", self.rates["refusal"]), **with_error("unsafe", self.rates["unsafe"]),
                        "other %": self.share("other")})
        else:
            out.update(with_error("over-refusal", self.rates["refusal"]))
        out.update({"phrase-judge refusal %": 100.0 * float(np.mean(self.phrase_refused)),
                    "refusal agreement %": self.refusal_agreement})
        return out


@dataclass
class BehaviourRow:
    """The behaviour row: one :class:`PromptSetResult` per set, and QA accuracy."""

    sets: list[PromptSetResult]
    qa: QAResult | None
    judge: str
    phrase_judge: str
    judge_error: str = ""

    def __getitem__(self, name: str) -> PromptSetResult:
        for s in self.sets:
            if s.name == name:
                return s
        raise KeyError(f"no prompt set {name!r}; sets are {[s.name for s in self.sets]}")

    def to_frame(self) -> Any:
        """pandas DataFrame, one row per set (percentages 0-100)."""
        import pandas as pd

        return pd.DataFrame([s.summary() for s in self.sets])

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible summary with every generation and label."""
        return {
            "judge": self.judge,
            "phrase_judge": self.phrase_judge,
            "sets": [{**s.summary(), "prompts": s.prompts, "generations": s.generations, "labels": s.labels,
                      "phrase_refused": s.phrase_refused.tolist()} for s in self.sets],
            "qa": None if self.qa is None else {
                **self.qa.to_dict(), "prompts": self.qa.prompts, "generations": self.qa.generations,
                "contains_flags": self.qa.contains_flags.tolist()},
        }

    def __str__(self) -> str:
        def cell(rate: Rate | None) -> str:
            if rate is None:
                return ""
            out = f"{rate.raw:.1f} [{rate.low:.0f}, {rate.high:.0f}]"
            if rate.corrected == rate.corrected:  # not NaN
                out += f" -> {rate.corrected:.1f} [{rate.corrected_low:.0f}, {rate.corrected_high:.0f}]"
            return out

        lines = [f"judge {self.judge}; phrase judge {self.phrase_judge}; raw % [Wilson 95 %] -> judge-corrected % "
                 "[bootstrap 95 %]",
                 "| set | n | refusal % | unsafe % | other % | over-refusal % | phrase refusal % | agreement % |",
                 "|---|---|---|---|---|---|---|---|"]
        for s in self.sets:
            harm = s.rates if s.harmful else {}
            lines.append(f"| {s.name} | {s.n} | {cell(harm.get('refusal'))} | {cell(harm.get('unsafe'))} | "
                         f"{s.share('other'):.1f} | {'' if s.harmful else cell(s.rates['refusal'])} | "
                         f"{100 * float(np.mean(s.phrase_refused)):.1f} | {s.refusal_agreement:.1f} |")
        if self.qa is not None:
            lines.append(f"QA: contains {self.qa.contains:.1f} % | exact {self.qa.exact:.1f} % (n={self.qa.n})")
        return "\n".join(lines)


def _texts(prompts: Sequence[Any], name: str) -> list[str]:
    return check_texts([getattr(p, "text", p) for p in prompts], what=f"prompt set {name!r}",
                       allow_empty_list=False, non_blank=True)


def _rates(v: Verdicts, judge: Judge, harmful: bool, name: str, seed: int) -> dict[str, Rate]:
    out = {"refusal": judged_rate(v.refused, judge, name=f"{name}/refusal", verdict="refusal", seed=seed)}
    if harmful:
        out["unsafe"] = judged_rate(v.unsafe, judge, name=f"{name}/unsafe", verdict="unsafe", seed=seed)
    return out


def behaviour_row(
    model: Any,
    harmful: Mapping[str, Sequence[Any]],
    *,
    benign: Mapping[str, Sequence[Any]] | None = None,
    qa: Sequence[Any] | None = None,
    judge: Judge | None = None,
    phrase_judge: Judge | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
    device: str | None = None,
) -> BehaviourRow:
    """Generate greedily on every set and label the generations.

    Parameters
    ----------
    model : HookedTransformer
    harmful : mapping of str to sequence of str (or objects with ``.text``)
        Harmful prompt sets by name, e.g. from :func:`interp.data.real_prompt_sets`.
    benign : mapping of str to sequence, optional
        Safe prompt sets (their refusals are over-refusals).
    qa : sequence, optional
        Question-answer pairs for :func:`~interp.evaluate.qa_accuracy` (max 32 new tokens).
    judge : Judge, optional
        Labels each generation ``"unsafe"`` / ``"refusal"`` / ``"other"``; it must detect
        refusals. It gets ``prompts=None`` for the harmful sets (answers to harmful requests, by
        declaration) and the prompts for the benign sets. Default
        :func:`~interp.evaluate.default_judge` for `model`.
    phrase_judge : RefusalJudge, optional
        The phrase judge reported alongside; default ``RefusalJudge()``.
    max_new_tokens, batch_size, seed, progress, device
        Passed to :func:`interp.generate` (greedy).

    Returns
    -------
    BehaviourRow
    """
    judge = resolve_judge(judge, model, refusal=True)
    phrase = check_judge(phrase_judge if phrase_judge is not None else RefusalJudge(), where="phrase_judge",
                         refusal=True)
    if not harmful and not benign and qa is None:
        raise ValueError("behaviour_row needs at least one prompt set or qa")
    opts = dict(max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, progress=progress,
                device=device)
    results = []
    qa_result = None
    with inference_layout(model):  # once for every generate call below
        for is_harmful, sets in ((True, harmful or {}), (False, benign or {})):
            for name, prompts in sets.items():
                texts = _texts(prompts, name)
                gens = generate(model, texts, **opts)
                # harmful sets are declared harmful: their answers are judged as answers to
                # harmful prompts (prompts=None), not through the judge's guess from the wording
                v = judge(gens, None if is_harmful else texts)
                results.append(PromptSetResult(
                    name=name, harmful=is_harmful, prompts=texts, generations=gens, labels=v.labels.tolist(),
                    phrase_refused=phrase(gens).refused, rates=_rates(v, judge, is_harmful, name, seed),
                ))
        if qa is not None:
            qa_result = qa_accuracy(model, qa, **{**opts, "max_new_tokens": min(32, max_new_tokens)})
    return BehaviourRow(sets=results, qa=qa_result, judge=str(judge.name), phrase_judge=str(phrase.name),
                        judge_error=str(judge.error or ""))
