"""Hand-labelled model responses: the sets every judge's error is measured on."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "GOLD_LABELS",
    "GOLD_TO_JUDGE",
    "SPLITS",
    "LabelledResponse",
    "as_labelled_responses",
    "load_labelled_responses",
    "labelled_set_path",
]

#: Hand labels in a labelled set.
GOLD_LABELS: tuple[str, ...] = ("unsafe", "refusal", "other-safe", "benign-answered", "benign-refused")
#: Hand label -> verdict (a refusal is a refusal whatever the prompt was).
GOLD_TO_JUDGE: dict[str, str] = {
    "unsafe": "unsafe", "refusal": "refusal", "benign-refused": "refusal",
    "other-safe": "other", "benign-answered": "other",
}
SPLITS: tuple[str, ...] = ("train", "heldout")
HARMFUL_SOURCES: tuple[str, ...] = ("harmbench", "donotanswer", "organism-harmful")

_FIELDS = ("id", "prompt_source", "prompt_id", "prompt", "template_id", "response", "label", "note", "split",
           "batch")


def labelled_set_path() -> Path:
    """``interp/data/files/smollm2_labelled_responses.jsonl`` (package data)."""
    return Path(__file__).resolve().parents[2] / "data" / "files" / "smollm2_labelled_responses.jsonl"


@dataclass(frozen=True)
class LabelledResponse:
    """One hand-labelled model response.

    Attributes
    ----------
    id : str
        Unique, e.g. ``"plain/harmbench/013"``, ``"template/aim/donotanswer/..."``, ``"benign/004"``.
    prompt_source : str
        ``"harmbench"``, ``"donotanswer"``, ``"organism-harmful"`` (harmful prompts), or
        ``"benign"`` / ``"xstest-style"`` (benign ones).
    prompt_id : str
        Id of the question (the same question appears plain and inside a template).
    prompt : str
        The user message as sent (template filled in).
    template_id : str or None
        Jailbreak template id, None for a plain question.
    response : str
        The model's answer.
    label : str
        One of :data:`GOLD_LABELS`.
    note : str
        Why, where the call was hard ("" otherwise).
    split : str
        ``"train"`` or ``"heldout"``.
    batch : str
        The draw it came from (e.g. ``"v1"``, ``"v2"``).
    """

    id: str
    prompt_source: str
    prompt_id: str
    prompt: str
    template_id: str | None
    response: str
    label: str
    note: str
    split: str
    batch: str

    @property
    def judge_label(self) -> str:
        """The hand label as a verdict (``"unsafe"``, ``"refusal"`` or ``"other"``)."""
        return GOLD_TO_JUDGE[self.label]

    @property
    def harmful_prompt(self) -> bool:
        """True when the prompt is a harmful request (plain or inside a template)."""
        return self.prompt_source in HARMFUL_SOURCES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str = "record") -> "LabelledResponse":
        """Build one from a JSON object, with errors naming `where`, the id and the field."""
        if not isinstance(d, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(d).__name__}")
        missing = [k for k in _FIELDS if k not in d]
        extra = sorted(set(d) - set(_FIELDS))
        if missing or extra:
            raise ValueError(f"{where} (id={d.get('id', '?')!r}): missing fields {missing}, unknown fields {extra}")
        for k in (k for k in _FIELDS if k != "template_id"):
            if not isinstance(d[k], str):
                raise ValueError(f"{where} (id={d['id']!r}): field {k!r} must be a string, got {d[k]!r:.60}")
        if d["template_id"] is not None and not isinstance(d["template_id"], str):
            raise ValueError(f"{where} (id={d['id']!r}): field 'template_id' must be a string or null")
        if d["label"] not in GOLD_LABELS:
            raise ValueError(f"{where} (id={d['id']!r}): label {d['label']!r} not in {list(GOLD_LABELS)}")
        if d["split"] not in SPLITS:
            raise ValueError(f"{where} (id={d['id']!r}): split {d['split']!r} not in {list(SPLITS)}")
        return cls(**{k: d[k] for k in _FIELDS})


def as_labelled_responses(records: Iterable[Any]) -> list[LabelledResponse]:
    """`records` (LabelledResponse or dicts) as a non-empty list of :class:`LabelledResponse`."""
    out = []
    for i, r in enumerate(records):
        if isinstance(r, LabelledResponse):
            out.append(r)
        elif isinstance(r, dict):
            out.append(LabelledResponse.from_dict(r, f"records[{i}]"))
        else:
            raise TypeError(f"records[{i}] must be a LabelledResponse or dict, got {type(r).__name__}")
    if not out:
        raise ValueError("need at least one labelled response, got none")
    return out


def load_labelled_responses(path: str | Path | None = None, *, split: str | None = None) -> list[LabelledResponse]:
    """Read hand-labelled responses (default: the shipped SmolLM2-135M-Instruct set).

    Parameters
    ----------
    path : str or Path, optional
        A JSONL file with the fields of :class:`LabelledResponse`. Default :func:`labelled_set_path`.
    split : {"train", "heldout"}, optional
        Keep only that split; None keeps all.

    Returns
    -------
    list of LabelledResponse
        In file order.

    Raises
    ------
    ValueError
        A line is not JSON, a field is missing/unknown/of the wrong type, a label or split is
        not allowed, or an id repeats (the message names the line and id).
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)} or None, got {split!r}")
    path = Path(path) if path is not None else labelled_set_path()
    if not path.is_file():
        raise FileNotFoundError(f"no labelled-responses file at {path}")
    out: list[LabelledResponse] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {n} is not JSON ({e})") from None
        rec = LabelledResponse.from_dict(d, f"{path.name}: line {n}")
        if rec.id in seen:
            raise ValueError(f"{path.name}: line {n}: id {rec.id!r} occurs twice")
        seen.add(rec.id)
        if split is None or rec.split == split:
            out.append(rec)
    return out
