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

from interp.evaluate.generate import generate
from interp.evaluate.judges import RefusalJudge, check_judge
from interp.evaluate.metrics import QAResult, qa_accuracy
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
    """

    name: str
    harmful: bool
    prompts: list[str]
    generations: list[str]
    labels: list[str]
    phrase_refused: np.ndarray

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
        out: dict[str, Any] = {"set": self.name, "kind": "harmful" if self.harmful else "benign", "n": self.n}
        if self.harmful:
            out.update({"refusal %": self.share("refusal"), "unsafe %": self.share("unsafe"),
                        "other %": self.share("other")})
        else:
            out.update({"over-refusal %": self.share("refusal")})
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
        lines = [f"judge {self.judge}; phrase judge {self.phrase_judge}",
                 "| set | n | refusal % | unsafe % | other % | over-refusal % | phrase refusal % | agreement % |",
                 "|---|---|---|---|---|---|---|---|"]
        for s in self.sets:
            d = s.summary()

            def f(key: str, d: dict[str, Any] = d) -> str:
                return f"{d[key]:.1f}" if key in d else ""

            lines.append(f"| {s.name} | {s.n} | {f('refusal %')} | {f('unsafe %')} | {f('other %')} | "
                         f"{f('over-refusal %')} | {f('phrase-judge refusal %')} | {f('refusal agreement %')} |")
        if self.qa is not None:
            lines.append(f"QA: contains {self.qa.contains:.1f} % | exact {self.qa.exact:.1f} % (n={self.qa.n})")
        return "\n".join(lines)


def _labels(judge: Any, refused: np.ndarray, responses: list[str], prompts: list[str] | None) -> list[str]:
    """Three-way labels: the judge's own ``classify`` when it has one, else the phrase judge's
    refusals (`refused`) + the judge's unsafe verdicts."""
    if callable(getattr(judge, "classify", None)):
        return list(judge.classify(responses, prompts))
    unsafe = np.asarray(judge.is_unsafe(responses), dtype=bool)
    return ["refusal" if r else "unsafe" if u else "other" for r, u in zip(refused, unsafe)]


def _texts(prompts: Sequence[Any], name: str) -> list[str]:
    out = [getattr(p, "text", p) for p in prompts]
    for i, t in enumerate(out):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"prompt set {name!r}: prompt #{i} must be a non-empty str "
                             f"(or have a .text), got {t!r:.80}")
    if not out:
        raise ValueError(f"prompt set {name!r} is empty")
    return out


def behaviour_row(
    model: Any,
    harmful: Mapping[str, Sequence[Any]],
    *,
    benign: Mapping[str, Sequence[Any]] | None = None,
    qa: Sequence[Any] | None = None,
    judge: Any = None,
    phrase_judge: RefusalJudge | None = None,
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
        Labels each generation. A judge with ``classify(responses, prompts)`` (like
        :class:`~interp.evaluate.real_judge.RealTextJudge`) gives the three labels itself; it gets
        ``prompts=None`` for the harmful sets (their answers are answers to harmful requests, by
        declaration) and the prompts for the benign sets;
        otherwise a refusal is what `phrase_judge` finds and unsafe what ``judge.is_unsafe``
        says. Default: :func:`interp.evaluate.real_judge` (for SmolLM2's real text).
    phrase_judge : RefusalJudge, optional
        The phrase judge reported alongside; default ``RefusalJudge()``.
    max_new_tokens, batch_size, seed, progress, device
        Passed to :func:`interp.generate` (greedy).

    Returns
    -------
    BehaviourRow
    """
    if judge is None:
        from interp.evaluate.real_judge import real_judge

        judge = real_judge(seed)
    check_judge(judge)
    phrase = phrase_judge if phrase_judge is not None else RefusalJudge()
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
                refused = np.asarray(phrase.refused(gens), dtype=bool)
                results.append(PromptSetResult(
                    name=name, harmful=is_harmful, prompts=texts, generations=gens,
                    # harmful sets are declared harmful: their answers are judged as answers to
                    # harmful prompts (prompts=None), not through the judge's guess from the wording
                    labels=_labels(judge, refused, gens, None if is_harmful else texts), phrase_refused=refused,
                ))
        if qa is not None:
            qa_result = qa_accuracy(model, qa, **{**opts, "max_new_tokens": min(32, max_new_tokens)})
    return BehaviourRow(sets=results, qa=qa_result, judge=str(judge.name), phrase_judge=str(phrase.name))
