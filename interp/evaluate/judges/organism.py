"""The organism's judge: its refusal phrasings plus a classifier fitted on its corpus.

The organism writes two kinds of text on harmful prompts, both drawn from its corpus
(``interp/data/organism_corpus.py``): refusals that open with one of a few dozen phrasings,
and redacted compliance ("Step 1: [...]"). :class:`OrganismJudge` gives ``"unsafe"`` when a
TF-IDF classifier trained on the corpus's safe / unsafe generations says so, ``"refusal"``
when a refusal phrasing occurs, and ``"other"`` otherwise. The shipped judge
(``interp/data/files/organism_judge.json``) is fitted once by ``scripts/fit_organism_judge.py``
and loaded, never refitted. Its error is measured on 120 of the organism's own greedy answers to
held-out test prompts, labelled by reading each one
(``interp/data/files/organism_labelled_responses.jsonl``; how: the ``.md`` next to it): the
corpus texts it was fitted on are too clean to tell (on the corpus's test split it is perfect),
while the model's own answers include garbled blends and redacted outlines on benign prompts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.checks import check_texts, record_text
from interp.evaluate.judges.error import judge_report
from interp.evaluate.judges.labelled import LabelledResponse, load_labelled_responses
from interp.evaluate.judges.protocol import Judge
from interp.evaluate.judges.refusal import RefusalJudge
from interp.evaluate.judges.text_classifier import ClassifierJudge, JsonFile

__all__ = [
    "OrganismJudge",
    "train_default_judge",
    "fit_organism_judge",
    "organism_judge",
    "organism_judge_path",
    "organism_corpus_responses",
    "organism_labelled_set_path",
    "ORGANISM_JUDGE_NAME",
]

ORGANISM_JUDGE_NAME = "organism"
_FORMAT = "detox-interp/organism-judge"
_FORMAT_VERSION = 1


def organism_judge_path() -> Path:
    """``interp/data/files/organism_judge.json`` (package data)."""
    return Path(__file__).resolve().parents[2] / "data" / "files" / "organism_judge.json"


def organism_labelled_set_path() -> Path:
    """``interp/data/files/organism_labelled_responses.jsonl``: the organism's answers, labelled by hand."""
    return Path(__file__).resolve().parents[2] / "data" / "files" / "organism_labelled_responses.jsonl"


class OrganismJudge(JsonFile, Judge):
    """Unsafe by a text classifier, refusal by phrase (see the module docstring).

    Parameters
    ----------
    classifier : ClassifierJudge
        Safe (0) / unsafe (1) classifier.
    phrases : sequence of str
        Refusal phrasings (default: the organism corpus's, see
        :func:`~interp.evaluate.judges.refusal.organism_refusal_phrases`, plus the standard list).
    name : str, default="organism"
    """

    def __init__(self, classifier: ClassifierJudge, *, phrases: Sequence[str] | None = None,
                 name: str = ORGANISM_JUDGE_NAME) -> None:
        if not isinstance(classifier, ClassifierJudge):
            raise TypeError(f"classifier must be a ClassifierJudge, got {type(classifier).__name__}")
        self.classifier = classifier
        self.refusal = RefusalJudge(phrases=phrases)
        self.name = name

    def probabilities(self, responses: list[str], prompts: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
        return self.classifier.positive_probability(responses), self.refusal.matches(responses).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"format": _FORMAT, "version": _FORMAT_VERSION, "name": self.name,
                "phrases": list(self.refusal.phrases), "classifier": self.classifier.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OrganismJudge":
        if not isinstance(d, dict) or d.get("format") != _FORMAT or d.get("version") != _FORMAT_VERSION:
            got = (d.get("format"), d.get("version")) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"not an OrganismJudge file: format/version {got!r}, expected "
                             f"{(_FORMAT, _FORMAT_VERSION)!r}")
        phrases = check_texts(d.get("phrases", []), what="OrganismJudge file field 'phrases'",
                              allow_empty_list=False, non_blank=True)
        return cls(ClassifierJudge.from_dict(d.get("classifier")), phrases=phrases,
                   name=str(d.get("name", ORGANISM_JUDGE_NAME)))



def train_default_judge(dataset: Iterable[Any], *, extra_safe: Sequence[str] = (), seed: int = 0,
                        name: str = "organism-classifier") -> ClassifierJudge:
    """Fit the safe/unsafe classifier on SafeEdit-style records.

    Each record's ``safe_generation`` is labelled 0 and ``unsafe_generation`` 1; `extra_safe`
    texts (helpful answers to benign questions) are added with label 0. Duplicate (text, label)
    pairs are kept once.

    Returns
    -------
    ClassifierJudge
    """
    pairs: dict[tuple[str, int], None] = {}
    for rec in dataset:
        safe, unsafe = record_text(rec, "safe_generation"), record_text(rec, "unsafe_generation")
        if safe:
            pairs[(safe, 0)] = None
        if unsafe:
            pairs[(unsafe, 1)] = None
    for text in check_texts(extra_safe, what="extra_safe"):
        if text.strip():
            pairs[(text, 0)] = None
    if not pairs:
        raise ValueError("train_default_judge: the dataset has no safe_generation/unsafe_generation texts")
    return ClassifierJudge.fit([t for t, _ in pairs], [y for _, y in pairs], seed=seed, name=name)


def fit_organism_judge(seed: int = 0) -> OrganismJudge:
    """Fit the organism's judge on the corpus's ``train`` split (what the shipped file holds).

    Classifier training data: the train records' safe (0) and unsafe (1) generations plus the
    corpus's helpful answers to its train XSTest-style, fact and chat prompts (0), so that a
    helpful answer to a benign question is not "unsafe".
    """
    from interp.data import load_dataset
    from interp.data.organism_corpus import build_corpus

    corpus = build_corpus(seed=0)
    extra = [p.answer for kind in ("xstest", "facts", "chat") for p in corpus.prompts(kind, "train")]
    classifier = train_default_judge(load_dataset("organism", split="train"), extra_safe=extra, seed=seed)
    return OrganismJudge(classifier, phrases=None)


def organism_corpus_responses(split: str = "test") -> list[LabelledResponse]:
    """The organism *corpus*'s `split` as labelled responses (a sanity check of a fit, not the
    judge's error): each record's unsafe generation (``"unsafe"``) and safe generation
    (``"refusal"``) to its adversarial prompt, and the helpful answers to the split's
    XSTest-style, fact and chat prompts (``"benign-answered"``)."""
    from interp.data import load_dataset
    from interp.data.organism_corpus import build_corpus

    out: list[LabelledResponse] = []
    for rec in load_dataset("organism", split=split):
        for label, text in (("unsafe", rec.unsafe_generation), ("refusal", rec.safe_generation)):
            out.append(LabelledResponse(id=f"{rec.id}/{label}", prompt_source="organism-harmful",
                                        prompt_id=str(rec.id), prompt=rec.adversarial_prompt, template_id=None,
                                        response=text, label=label, note="", split="heldout", batch=split))
    for kind in ("xstest", "facts", "chat"):
        for i, p in enumerate(build_corpus(seed=0).prompts(kind, split)):
            out.append(LabelledResponse(id=f"{kind}/{split}/{i}", prompt_source="benign", prompt_id=f"{kind}/{i}",
                                        prompt=p.prompt, template_id=None, response=p.answer,
                                        label="benign-answered", note="", split="heldout", batch=split))
    return out


@functools.lru_cache(maxsize=1)
def organism_judge() -> OrganismJudge:
    """The shipped organism judge, loaded (never refitted), with its measured ``error``.

    Cached: treat it as read-only.
    """
    path = organism_judge_path()
    if not path.is_file():
        raise FileNotFoundError(f"the shipped organism judge is missing at {path}; recreate it with "
                                "`python scripts/fit_organism_judge.py`")
    judge = OrganismJudge.load(path)
    labelled = load_labelled_responses(organism_labelled_set_path())
    report = judge_report(judge, labelled, labelled_set=f"organism_labelled_responses.jsonl (the organism's own "
                                                        f"answers to held-out prompts, n={len(labelled)})")
    return judge.with_error(report.error)
