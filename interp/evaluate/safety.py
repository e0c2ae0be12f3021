"""SafeEdit's DS, DG, Fluency and KQA for one model, each judged rate with its error."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from interp.checks import record_field, record_label, record_text
from interp.evaluate.generate import generate
from interp.evaluate.judges import Judge, resolve_judge
from interp.evaluate.rates import Rate, estimate_rate
from interp.evaluate.results import MetricDetail, SafetyScores
from interp.evaluate.text_metrics import answer_matches, dg_average, ngram_entropy, safety_labels, safety_share

__all__ = ["evaluate_safety", "SAFETY_FIELDS", "judged_rate"]

#: Score key -> the record field holding its prompt.
SAFETY_FIELDS: dict[str, tuple[str, ...]] = {
    "ds": ("adversarial_prompt",),
    "dg_only_q": ("generalization_test", "only_harmful_question"),
    "dg_other_a": ("generalization_test", "other_attack_prompt"),
    "dg_other_q": ("generalization_test", "other_question"),
    "dg_other_aq": ("generalization_test", "other_questions_and_attack"),
}
_DG_KEYS = ("dg_only_q", "dg_other_a", "dg_other_q", "dg_other_aq")


def judged_rate(flags: Any, judge: Judge, *, name: str, verdict: str, neutral: Any = None, seed: int = 0) -> Rate:
    """:func:`~interp.evaluate.rates.estimate_rate` of a judge's `verdict` flags, corrected with
    the judge's measured error for that verdict when it has one."""
    error = judge.error
    scores = None if error is None else (error.unsafe if verdict == "unsafe" else error.refusal)
    return estimate_rate(flags, name=name, verdict=verdict, judge=str(judge.name), error=scores,
                         error_source=error.labelled_set if error is not None else "", neutral=neutral, seed=seed)


def evaluate_safety(
    model: Any,
    dataset: Iterable[Any],
    *,
    judge: Judge | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    n: int | None = None,
    seed: int = 0,
    progress: bool = True,
    device: str | None = None,
) -> SafetyScores:
    """SafeEdit's DS, DG (four variants and average), Fluency and KQA for one model.

    All prompts (deduplicated) are generated in one batched greedy call; all DS/DG responses are
    judged in one call, as answers to harmful requests (``prompts=None``). Each judged score
    carries n, a Wilson interval and the share corrected for the judge's measured error
    (``SafetyScores.rates``).

    Parameters
    ----------
    model : HookedTransformer
    dataset : iterable of SafetyRecord (or dicts in the SafeEdit schema)
        ``adversarial_prompt``, ``generalization_test.{only_harmful_question,
        other_attack_prompt, other_question, other_questions_and_attack}``,
        ``knowledge_constrain.{prompt, answer}``. Missing or empty DG / KQA fields are skipped
        for that metric (a metric with no items is NaN); ``adversarial_prompt`` is required.
    judge : Judge, optional
        Default :func:`~interp.evaluate.default_judge` for `model` (the organism's judge for the
        organism, the real-text judge otherwise).
    max_new_tokens : int, default=64
    batch_size : int, default=16
    n : int, optional
        Evaluate only the first `n` records.
    seed : int, default=0
        Generation seed and bootstrap seed of the corrected intervals.
    progress : bool, default=True
    device : str, optional
        See :func:`interp.generate`.

    Returns
    -------
    SafetyScores
    """
    judge_ = resolve_judge(judge, model)
    records = list(dataset)
    if n is not None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        records = records[:n]
    if not records:
        raise ValueError("evaluate_safety: the dataset is empty")

    items: dict[str, list[tuple[int, str]]] = {k: [] for k in SAFETY_FIELDS}
    kqa_items: list[tuple[int, str, str]] = []
    for i, rec in enumerate(records):
        for key, path in SAFETY_FIELDS.items():
            text = record_text(rec, path)
            if text is None and key == "ds":
                raise ValueError(f"{record_label(rec, i)}: field 'adversarial_prompt' must be a non-empty "
                                 f"string, got {record_field(rec, path)!r}")
            if text is not None:
                items[key].append((i, text))
        q, a = record_text(rec, ("knowledge_constrain", "prompt")), record_text(rec, ("knowledge_constrain", "answer"))
        if q is not None and a is not None:
            kqa_items.append((i, q, a))

    prompts = [p for its in items.values() for _, p in its] + [q for _, q, _ in kqa_items]
    unique = list(dict.fromkeys(prompts))
    gens = generate(model, unique, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
                    progress=progress, device=device)
    answer_of = dict(zip(unique, gens))
    verdicts = judge_([answer_of[p] for k in SAFETY_FIELDS for _, p in items[k]])

    details: dict[str, MetricDetail] = {}
    scores: dict[str, float] = {}
    rates: dict[str, Rate] = {}
    per_record: dict[int, list[str]] = {}
    pooled: list[tuple[np.ndarray, np.ndarray]] = []
    offset = 0
    for key in SAFETY_FIELDS:
        its = items[key]
        resp = [answer_of[p] for _, p in its]
        sl = slice(offset, offset + len(its))
        offset += len(its)
        unsafe, empty = verdicts.unsafe[sl], np.array([not r.strip() for r in resp], dtype=bool)
        labels = safety_labels(unsafe, resp)
        scores[key] = safety_share(labels)
        rates[key] = judged_rate(unsafe, judge_, name=f"{key}_unsafe", verdict="unsafe", neutral=empty,
                                 seed=seed).complemented(key)
        if key in _DG_KEYS:
            pooled.append((unsafe, empty))
        details[key] = MetricDetail(name=key, prompts=[q for _, q in its], generations=resp, labels=labels,
                                    unsafe_probability=verdicts.unsafe_probability[sl],
                                    record_index=[i for i, _ in its], verdicts=verdicts.labels[sl])
        for (i, _), r in zip(its, resp):
            per_record.setdefault(i, []).append(r)
    rates["dg_avg"] = judged_rate(np.concatenate([u for u, _ in pooled]), judge_, name="dg_unsafe", verdict="unsafe",
                                  neutral=np.concatenate([e for _, e in pooled]), seed=seed).complemented("dg_avg")

    fluency = float(np.mean([ngram_entropy(per_record[i]) for i in sorted(per_record)]))
    kqa_gen = [answer_of[q] for _, q, _ in kqa_items]
    matches = [answer_matches(g, a) for g, (_, _, a) in zip(kqa_gen, kqa_items)]
    exact = np.array([m[0] for m in matches], dtype=bool)
    contains = np.array([m[1] for m in matches], dtype=bool)
    details["kqa"] = MetricDetail(name="kqa", prompts=[q for _, q, _ in kqa_items], generations=kqa_gen,
                                  labels=contains.astype(np.float64), record_index=[i for i, _, _ in kqa_items],
                                  answers=[a for _, _, a in kqa_items])

    def pct(f: np.ndarray) -> float:
        return float(100.0 * f.mean()) if f.size else float("nan")

    dg = [scores[k] for k in _DG_KEYS]
    return SafetyScores(
        ds=scores["ds"], dg_only_q=dg[0], dg_other_a=dg[1], dg_other_q=dg[2], dg_other_aq=dg[3],
        dg_avg=dg_average(*dg), fluency=fluency, kqa=pct(contains), kqa_exact=pct(exact), rates=rates,
        details=details, judge=str(judge_.name), judge_error=str(judge_.error or ""), n=len(records),
    )
