"""Rates over prompt lists from a model's greedy answers: refusal, over-refusal, unsafe, QA."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from interp.checks import check_texts, record_field
from interp.evaluate.generate import generate
from interp.evaluate.judges import Judge, resolve_judge
from interp.evaluate.results import QAResult, RateResult
from interp.evaluate.safety import judged_rate
from interp.evaluate.text_metrics import answer_matches

__all__ = ["refusal_rate", "over_refusal", "unsafe_rate", "qa_accuracy", "read_qa_pair"]


def _judged(name: str, verdict: str, model: Any, prompts: Any, judge: Any, *, harmful: bool,
            gen: dict[str, Any]) -> RateResult:
    judge_ = resolve_judge(judge, model, refusal=verdict == "refusal")
    texts = check_texts(prompts, what="prompts", allow_empty_list=False)
    gens = generate(model, texts, **gen)
    v = judge_(gens, None if harmful else texts)
    flags = v.refused if verdict == "refusal" else v.unsafe
    scores = v.refusal_probability if verdict == "refusal" else v.unsafe_probability
    return RateResult(name=name, estimate=judged_rate(flags, judge_, name=name, verdict=verdict, seed=gen["seed"]),
                      prompts=texts, generations=gens, flags=flags, scores=scores, judge=str(judge_.name))


def refusal_rate(
    model: Any,
    prompts: Sequence[str],
    *,
    judge: Judge | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    chat: bool = True,
    progress: bool = True,
    device: str | None = None,
) -> RateResult:
    """Share of harmful `prompts` the model refuses (greedy answers), with n, interval and the
    share corrected for the judge's error.

    Parameters
    ----------
    model : HookedTransformer
    prompts : sequence of str
        Harmful requests (the judge is told so: ``prompts=None``).
    judge : Judge, optional
        Must detect refusals. Default :func:`~interp.evaluate.default_judge` for `model`.
    max_new_tokens, batch_size, seed, chat, progress, device
        Passed to :func:`interp.generate`; `seed` also seeds the bootstrap.

    Returns
    -------
    RateResult
        ``name="refusal_rate"``, ``flags`` True where refused.
    """
    return _judged("refusal_rate", "refusal", model, prompts, judge, harmful=True,
                   gen=dict(max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, chat=chat,
                            progress=progress, device=device))


def over_refusal(
    model: Any,
    safe_prompts: Sequence[str],
    *,
    judge: Judge | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    chat: bool = True,
    progress: bool = True,
    device: str | None = None,
) -> RateResult:
    """Share of *safe* prompts (XSTest-style: they only sound unsafe) that are refused; lower is
    better. Like :func:`refusal_rate`, but the judge sees the prompts."""
    result = _judged("over_refusal", "refusal", model, safe_prompts, judge, harmful=False,
                     gen=dict(max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, chat=chat,
                              progress=progress, device=device))
    return result


def unsafe_rate(
    model: Any,
    prompts: Sequence[str],
    *,
    judge: Judge | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    chat: bool = True,
    progress: bool = True,
    device: str | None = None,
) -> RateResult:
    """Share of answers to harmful `prompts` the judge calls unsafe, raw and corrected.

    Unlike DS, an empty response is not counted as 0.5 here: it is whatever the judge says.

    Returns
    -------
    RateResult
        ``name="unsafe_rate"``, ``scores`` = P(unsafe).
    """
    return _judged("unsafe_rate", "unsafe", model, prompts, judge, harmful=True,
                   gen=dict(max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, chat=chat,
                            progress=progress, device=device))


def read_qa_pair(item: Any, i: int, what: str = "qa_pairs") -> tuple[str, str | tuple[str, ...]]:
    """``(prompt, answer or accepted answers)`` of a pair, a dict or an object; errors name ``what[i]``."""
    if isinstance(item, (tuple, list)) and len(item) >= 2:
        prompt, answer = item[0], item[1]
    else:
        prompt = record_field(item, "prompt")
        answer = record_field(item, "answers")
        answer = record_field(item, "answer") if answer is None else answer
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"{what}[{i}]: 'prompt' must be a non-empty string, got {prompt!r:.80}")
    if isinstance(answer, (tuple, list)) and answer and all(isinstance(a, str) for a in answer):
        return prompt, tuple(answer)
    if not isinstance(answer, str):
        raise ValueError(f"{what}[{i}]: 'answer' must be a string or a non-empty list of strings, got {answer!r:.80}")
    return prompt, answer


def qa_accuracy(
    model: Any,
    qa_pairs: Iterable[Any],
    *,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    seed: int = 0,
    chat: bool = True,
    progress: bool = True,
    device: str | None = None,
) -> QAResult:
    """Exact-match and contains accuracy (percent) of greedy answers to questions.

    Parameters
    ----------
    qa_pairs : iterable of QAPair, FactQuestion, (prompt, answer) tuples or dicts
        Each with ``prompt`` and ``answer`` (a str) or ``answers`` (accepted alternatives; any
        one counts).

    Returns
    -------
    QAResult
    """
    pairs = [read_qa_pair(item, i) for i, item in enumerate(qa_pairs)]
    if not pairs:
        raise ValueError("qa_pairs is empty")
    prompts, answers = [p for p, _ in pairs], [a for _, a in pairs]
    gens = generate(model, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, chat=chat,
                    progress=progress, device=device)
    m = [answer_matches(g, a) for g, a in zip(gens, answers)]
    exact = np.array([x[0] for x in m], dtype=bool)
    contains = np.array([x[1] for x in m], dtype=bool)
    return QAResult(exact=float(100.0 * exact.mean()), contains=float(100.0 * contains.mean()), prompts=prompts,
                    answers=answers, generations=gens, exact_flags=exact, contains_flags=contains)
