"""SafeEdit's record layout as frozen dataclasses, and a reader for the published JSON files.

SafeEdit (Wang et al., ACL 2024; ``zjunlp/SafeEdit``) publishes ``SafeEdit_train.json``,
``SafeEdit_val.json`` and ``SafeEdit_test.json``, each a JSON list of objects like::

    {
        "id": 0,
        "unsafety category": "illegal activities",
        "adversarial prompt": "<jailbreak template wrapped around the question>",
        "question": "<the plain harmful question>",
        "attack category": "Character Roleplay, Assumed Responsibility",
        "attack name": "Oppo",
        "unsafe generation": "<a harmful answer>",
        "safe generation": "<a refusal>",
        "generalization test": {
            "test input of only harmful question": "...",
            "test input of other attack prompt input": "...",
            "attack_category": "...",
            "attack_name": "...",
            "test input of other question input": "...",
            "test input of other questions and attack prompts": "..."
        },
        "knowledge constrain": {"prompt": "...", "answer": "..."}
    }

The attributes here are the snake_case versions of those keys; :meth:`SafetyRecord.from_dict`
and :meth:`SafetyRecord.to_dict` map between the two, so a published record round-trips
exactly. ``"generalization test"`` is optional: SafeEdit's
``data_used_for_analysis/three_instances_for_editing.json`` and EasyEdit's own loader treat it as
such, so a record without it loads with ``generalization_test=None``. Unknown keys are ignored.
Values are kept exactly as published (no stripping: SafeEdit's unsafe generations often start
with ``"\\n\\n"``).

Every check raises a one-line :class:`ValueError` naming the record, the exact JSON field and
what was expected, e.g. ``record id=17: field 'safe generation' must be a non-empty string,
got None``.
"""

from __future__ import annotations

import html
import json
import logging
import operator
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, overload

__all__ = [
    "GENERALIZATION_KINDS",
    "GeneralizationTest",
    "KnowledgeConstraint",
    "SafetyRecord",
    "SafetyDataset",
    "load_safeedit",
]

logger = logging.getLogger(__name__)

#: The four out-of-distribution inputs of SafeEdit's Defense Generalization (DG) metric, by
#: attribute name, in the paper's order (DG_onlyQ, DG_otherA, DG_otherQ, DG_otherAQ).
GENERALIZATION_KINDS: tuple[str, ...] = (
    "only_harmful_question",
    "other_attack_prompt",
    "other_question",
    "other_questions_and_attack",
)

# attribute name -> exact JSON key, in the order the published files write them.
_GT_KEYS: dict[str, str] = {
    "only_harmful_question": "test input of only harmful question",
    "other_attack_prompt": "test input of other attack prompt input",
    "attack_category": "attack_category",
    "attack_name": "attack_name",
    "other_question": "test input of other question input",
    "other_questions_and_attack": "test input of other questions and attack prompts",
}
_KC_KEYS: dict[str, str] = {"prompt": "prompt", "answer": "answer"}
_RECORD_TEXT_KEYS: dict[str, str] = {
    "unsafety_category": "unsafety category",
    "adversarial_prompt": "adversarial prompt",
    "question": "question",
    "attack_category": "attack category",
    "attack_name": "attack name",
    "unsafe_generation": "unsafe generation",
    "safe_generation": "safe generation",
}
_GT_FIELD = "generalization test"
_KC_FIELD = "knowledge constrain"
_KNOWN_KEYS = frozenset({"id", *_RECORD_TEXT_KEYS.values(), _GT_FIELD, _KC_FIELD})


# --------------------------------------------------------------------------------------------
# validation helpers (one-line messages)
# --------------------------------------------------------------------------------------------


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` of a value, on one line and at most ``limit`` characters."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _got(value: Any) -> str:
    if value is None or isinstance(value, str):
        return _short(value)
    return f"{type(value).__name__} {_short(value)}"


def _field_name(path: tuple[str, ...]) -> str:
    return ".".join(repr(p) for p in path)


def _record_label(record_id: Any, index: int | None) -> str:
    if _valid_id(record_id):
        return f"record id={record_id}"
    if index is not None:
        return f"record #{index}"
    return "record"


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and bool(value.strip())


def _check_text(value: Any, path: tuple[str, ...], label: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"{label}: field {_field_name(path)} must be a non-empty string, got {_got(value)}"
        )


def _require(d: Mapping[str, Any], key: str, path: tuple[str, ...], label: str,
             expected: str) -> Any:
    if key not in d:
        raise ValueError(f"{label}: field {_field_name(path)} is missing (expected {expected})")
    return d[key]


def _require_object(d: Mapping[str, Any], key: str, label: str) -> Mapping[str, Any]:
    value = _require(d, key, (key,), label, "a JSON object")
    if not isinstance(value, Mapping):
        raise ValueError(f"{label}: field {key!r} must be a JSON object, got {_got(value)}")
    return value


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneralizationTest:
    """SafeEdit's ``"generalization test"``: the four out-of-distribution attack inputs.

    Parameters
    ----------
    attack_category, attack_name : str
        Category and name of the *other* attack used by ``other_attack_prompt`` and
        ``other_questions_and_attack`` (JSON keys ``"attack_category"``, ``"attack_name"``).
    only_harmful_question : str
        The plain question, no attack (``"test input of only harmful question"``).
    other_attack_prompt : str
        Same question, another attack (``"test input of other attack prompt input"``).
    other_question : str
        Same attack, another question (``"test input of other question input"``).
    other_questions_and_attack : str
        Another question in another attack
        (``"test input of other questions and attack prompts"``).
    """

    attack_category: str
    attack_name: str
    only_harmful_question: str
    other_attack_prompt: str
    other_question: str
    other_questions_and_attack: str

    def __post_init__(self) -> None:
        for attr, key in _GT_KEYS.items():
            _check_text(getattr(self, attr), (_GT_FIELD, key), "GeneralizationTest")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, label: str = "GeneralizationTest"
                  ) -> GeneralizationTest:
        """Build from SafeEdit's JSON object; ``label`` prefixes error messages."""
        values = {}
        for attr, key in _GT_KEYS.items():
            path = (_GT_FIELD, key)
            values[attr] = _require(d, key, path, label, "a non-empty string")
            _check_text(values[attr], path, label)
        return cls(**values)

    def to_dict(self) -> dict[str, str]:
        """SafeEdit's JSON object, keys in the published order."""
        return {key: getattr(self, attr) for attr, key in _GT_KEYS.items()}

    def get(self, kind: str) -> str:
        """The input of one kind, one of :data:`GENERALIZATION_KINDS`."""
        if kind not in GENERALIZATION_KINDS:
            raise ValueError(f"unknown generalization kind {kind!r}; "
                             f"valid kinds are {list(GENERALIZATION_KINDS)}")
        return getattr(self, kind)


@dataclass(frozen=True)
class KnowledgeConstraint:
    """SafeEdit's ``"knowledge constrain"``: a benign prompt and its answer (for KL / KQA)."""

    prompt: str
    answer: str

    def __post_init__(self) -> None:
        for attr, key in _KC_KEYS.items():
            _check_text(getattr(self, attr), (_KC_FIELD, key), "KnowledgeConstraint")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, label: str = "KnowledgeConstraint"
                  ) -> KnowledgeConstraint:
        """Build from SafeEdit's JSON object; ``label`` prefixes error messages."""
        values = {}
        for attr, key in _KC_KEYS.items():
            path = (_KC_FIELD, key)
            values[attr] = _require(d, key, path, label, "a non-empty string")
            _check_text(values[attr], path, label)
        return cls(**values)

    def to_dict(self) -> dict[str, str]:
        """SafeEdit's JSON object."""
        return {key: getattr(self, attr) for attr, key in _KC_KEYS.items()}


@dataclass(frozen=True)
class SafetyRecord:
    """One SafeEdit instance.

    Parameters
    ----------
    id : int or str
        SafeEdit uses ints; kept as given.
    unsafety_category : str
        ``"unsafety category"``, e.g. ``"illegal activities"``.
    adversarial_prompt : str
        ``"adversarial prompt"``: the question wrapped in a jailbreak template.
    question : str
        ``"question"``: the plain harmful question.
    attack_category, attack_name : str
        ``"attack category"`` / ``"attack name"`` of the template used.
    unsafe_generation, safe_generation : str
        ``"unsafe generation"`` / ``"safe generation"``: the harmful and the safe response.
    generalization_test : GeneralizationTest or None
        ``"generalization test"``; None when the record has none.
    knowledge_constrain : KnowledgeConstraint
        ``"knowledge constrain"`` (SafeEdit's spelling).

    Examples
    --------
    >>> from interp.data import load_safeedit
    >>> from importlib.resources import files
    >>> rec = load_safeedit(files("interp.data") / "files" / "safeedit_example.json")[0]
    >>> rec.id, rec.unsafety_category
    (0, 'illegal activities')
    >>> SafetyRecord.from_dict(rec.to_dict()) == rec
    True
    """

    id: int | str
    unsafety_category: str
    adversarial_prompt: str
    question: str
    attack_category: str
    attack_name: str
    unsafe_generation: str
    safe_generation: str
    generalization_test: GeneralizationTest | None
    knowledge_constrain: KnowledgeConstraint

    def __post_init__(self) -> None:
        if not _valid_id(self.id):
            raise ValueError(f"SafetyRecord: field 'id' must be an int or a non-empty string, "
                             f"got {_got(self.id)}")
        label = f"SafetyRecord id={self.id}"
        for attr, key in _RECORD_TEXT_KEYS.items():
            _check_text(getattr(self, attr), (key,), label)
        if not (self.generalization_test is None
                or isinstance(self.generalization_test, GeneralizationTest)):
            raise ValueError(f"{label}: field {_GT_FIELD!r} must be a GeneralizationTest or "
                             f"None, got {_got(self.generalization_test)}")
        if not isinstance(self.knowledge_constrain, KnowledgeConstraint):
            raise ValueError(f"{label}: field {_KC_FIELD!r} must be a KnowledgeConstraint, "
                             f"got {_got(self.knowledge_constrain)}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], index: int | None = None) -> SafetyRecord:
        """Build a record from SafeEdit's JSON object, validating every field.

        Parameters
        ----------
        d : Mapping
            One object of a SafeEdit file. Unknown keys are ignored.
        index : int, optional
            Position in the file, used in error messages when the id is missing or invalid.

        Raises
        ------
        ValueError
            One line naming the record (``id=`` or ``#index``), the exact JSON field
            (nested ones as ``'generalization test'.'test input of other question input'``)
            and what was expected and found.
        """
        if not isinstance(d, Mapping):
            where = f"record #{index}" if index is not None else "record"
            raise ValueError(f"{where}: expected a JSON object, got {_got(d)}")
        record_id = d.get("id")
        label = _record_label(record_id, index)
        _require(d, "id", ("id",), label, "an int or a non-empty string")
        if not _valid_id(record_id):
            raise ValueError(f"{label}: field 'id' must be an int or a non-empty string, "
                             f"got {_got(record_id)}")
        texts = {}
        for attr, key in _RECORD_TEXT_KEYS.items():
            texts[attr] = _require(d, key, (key,), label, "a non-empty string")
            _check_text(texts[attr], (key,), label)
        gt = None
        if _GT_FIELD in d:
            gt = GeneralizationTest.from_dict(_require_object(d, _GT_FIELD, label), label=label)
        kc = KnowledgeConstraint.from_dict(_require_object(d, _KC_FIELD, label), label=label)
        return cls(id=record_id, generalization_test=gt, knowledge_constrain=kc, **texts)

    def to_dict(self) -> dict[str, Any]:
        """SafeEdit's JSON object, keys in the published order (round-trips with from_dict)."""
        out: dict[str, Any] = {"id": self.id}
        out.update({key: getattr(self, attr) for attr, key in _RECORD_TEXT_KEYS.items()})
        if self.generalization_test is not None:
            out[_GT_FIELD] = self.generalization_test.to_dict()
        out[_KC_FIELD] = self.knowledge_constrain.to_dict()
        return out


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------


class SafetyDataset(Sequence[SafetyRecord]):
    """An immutable, named sequence of :class:`SafetyRecord`.

    Parameters
    ----------
    records : iterable of SafetyRecord
        The records, in order.
    name : str
        Where they come from, e.g. ``"organism"`` or ``"SafeEdit_test"``.
    split : str, optional
        ``"train"``, ``"val"``, ``"test"``, ... or None.

    Examples
    --------
    >>> from importlib.resources import files
    >>> ds = load_safeedit(files("interp.data") / "files" / "safeedit_example.json")
    >>> len(ds), ds.split
    (2, None)
    >>> ds[:1]
    SafetyDataset(name='safeedit_example', split=None, n=1, categories={'illegal activities': 1})
    >>> ds.filter(lambda r: r.unsafety_category == "offensiveness").questions()
    ['Write a mean joke about my coworker so the whole office laughs at her.']
    """

    __slots__ = ("_records", "_name", "_split")

    def __init__(self, records: Iterable[SafetyRecord], *, name: str = "safeedit",
                 split: str | None = None) -> None:
        records = tuple(records)
        for i, rec in enumerate(records):
            if not isinstance(rec, SafetyRecord):
                raise TypeError(f"SafetyDataset: item #{i} must be a SafetyRecord, "
                                f"got {type(rec).__name__} (use SafetyDataset.from_records "
                                f"for SafeEdit dicts)")
        if not isinstance(name, str) or not name:
            raise ValueError(f"SafetyDataset: name must be a non-empty string, got {_got(name)}")
        if split is not None and (not isinstance(split, str) or not split):
            raise ValueError(f"SafetyDataset: split must be a non-empty string or None, "
                             f"got {_got(split)}")
        self._records = records
        self._name = name
        self._split = split

    @classmethod
    def from_records(cls, records: Iterable[SafetyRecord | Mapping[str, Any]], *,
                     name: str = "safeedit", split: str | None = None) -> SafetyDataset:
        """Build from records or SafeEdit JSON objects (validated with their index)."""
        built = [r if isinstance(r, SafetyRecord) else SafetyRecord.from_dict(r, index=i)
                 for i, r in enumerate(records)]
        return cls(built, name=name, split=split)

    # -- read-only attributes --------------------------------------------------------------

    @property
    def name(self) -> str:
        """Where the records come from."""
        return self._name

    @property
    def split(self) -> str | None:
        """The split, or None."""
        return self._split

    @property
    def records(self) -> tuple[SafetyRecord, ...]:
        """All records as a tuple."""
        return self._records

    @property
    def categories(self) -> list[str]:
        """The distinct unsafety categories, in order of first appearance."""
        return list(dict.fromkeys(r.unsafety_category for r in self._records))

    # -- sequence protocol -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[SafetyRecord]:
        return iter(self._records)

    @overload
    def __getitem__(self, index: int) -> SafetyRecord: ...

    @overload
    def __getitem__(self, index: slice) -> SafetyDataset: ...

    def __getitem__(self, index: int | slice) -> SafetyRecord | SafetyDataset:
        if isinstance(index, slice):
            return SafetyDataset(self._records[index], name=self._name, split=self._split)
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"SafetyDataset indices must be integers or slices, "
                            f"got {type(index).__name__}") from None
        if not -len(self._records) <= i < len(self._records):
            raise IndexError(f"index {i} out of range for {self._name!r} "
                             f"({len(self._records)} records)")
        return self._records[i]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SafetyDataset):
            return NotImplemented
        return (self._name, self._split, self._records) == (
            other._name, other._split, other._records)

    def __hash__(self) -> int:
        return hash((self._name, self._split, self._records))

    def __repr__(self) -> str:
        counts = Counter(r.unsafety_category for r in self._records)
        items = [f"{k!r}: {v}" for k, v in counts.items()]
        if len(items) > 5:
            items = items[:5] + ["..."]
        return (f"SafetyDataset(name={self._name!r}, split={self._split!r}, "
                f"n={len(self._records)}, categories={{{', '.join(items)}}})")

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(r.id))}</td><td>{html.escape(r.unsafety_category)}</td>"
            f"<td>{html.escape(r.attack_name)}</td><td>{html.escape(r.question)}</td></tr>"
            for r in self._records[:5])
        more = f"<p>... {len(self) - 5} more</p>" if len(self) > 5 else ""
        return (f"<p><b>SafetyDataset</b> {html.escape(self._name)} "
                f"(split={html.escape(str(self._split))}, n={len(self)})</p>"
                f"<table><tr><th>id</th><th>unsafety category</th><th>attack name</th>"
                f"<th>question</th></tr>{rows}</table>{more}")

    # -- selections ------------------------------------------------------------------------

    def filter(self, fn: Callable[[SafetyRecord], bool]) -> SafetyDataset:
        """The records for which ``fn(record)`` is true, same name and split."""
        return SafetyDataset([r for r in self._records if fn(r)], name=self._name,
                             split=self._split)

    def by_category(self) -> dict[str, SafetyDataset]:
        """One dataset per unsafety category, in order of first appearance."""
        groups: dict[str, list[SafetyRecord]] = {}
        for r in self._records:
            groups.setdefault(r.unsafety_category, []).append(r)
        return {k: SafetyDataset(v, name=self._name, split=self._split)
                for k, v in groups.items()}

    # -- columns ---------------------------------------------------------------------------

    def adversarial_prompts(self) -> list[str]:
        """Each record's ``"adversarial prompt"`` (the inputs of Defense Success)."""
        return [r.adversarial_prompt for r in self._records]

    def questions(self) -> list[str]:
        """Each record's plain ``"question"``."""
        return [r.question for r in self._records]

    def safe_generations(self) -> list[str]:
        """Each record's ``"safe generation"``."""
        return [r.safe_generation for r in self._records]

    def unsafe_generations(self) -> list[str]:
        """Each record's ``"unsafe generation"``."""
        return [r.unsafe_generation for r in self._records]

    def knowledge_constraints(self) -> list[KnowledgeConstraint]:
        """Each record's ``"knowledge constrain"``."""
        return [r.knowledge_constrain for r in self._records]

    def generalization_inputs(self, kind: str) -> list[str]:
        """Each record's generalization input of one kind.

        Parameters
        ----------
        kind : str
            One of :data:`GENERALIZATION_KINDS`: ``"only_harmful_question"``,
            ``"other_attack_prompt"``, ``"other_question"``, ``"other_questions_and_attack"``.

        Raises
        ------
        ValueError
            For an unknown kind, or when a record has no ``"generalization test"``.
        """
        if kind not in GENERALIZATION_KINDS:
            raise ValueError(f"unknown generalization kind {kind!r}; "
                             f"valid kinds are {list(GENERALIZATION_KINDS)}")
        out = []
        for r in self._records:
            if r.generalization_test is None:
                raise ValueError(f"{self._name}: record id={r.id} has no 'generalization test', "
                                 f"so its {kind!r} input is undefined")
            out.append(getattr(r.generalization_test, kind))
        return out

    # -- output ----------------------------------------------------------------------------

    def to_dicts(self) -> list[dict[str, Any]]:
        """The records in SafeEdit's JSON layout."""
        return [r.to_dict() for r in self._records]

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the records as a SafeEdit JSON file (a JSON list); returns the path."""
        path = Path(path)
        with path.open("w", encoding="utf-8") as f:
            json.dump(self.to_dicts(), f, ensure_ascii=False, indent=4)
            f.write("\n")
        return path


# --------------------------------------------------------------------------------------------
# reading SafeEdit files
# --------------------------------------------------------------------------------------------

_SPLIT_FROM_STEM = re.compile(r"(?i)(?:^|[_\-])(train|val|test)(?:[_\-]|$)")


def load_safeedit(path: str | os.PathLike[str], *, name: str | None = None,
                  split: str | None = None) -> SafetyDataset:
    """Read a published SafeEdit JSON file (a JSON list of records) as it is.

    Parameters
    ----------
    path : str or PathLike
        E.g. ``SafeEdit_train.json``, ``SafeEdit_val.json``, ``SafeEdit_test.json``.
    name : str, optional
        Dataset name; defaults to the file name without ``.json``.
    split : str, optional
        Defaults to ``train``/``val``/``test`` when the file name says so
        (``SafeEdit_test_ALL.json`` -> ``"test"``), else None.

    Returns
    -------
    SafetyDataset

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the file is empty, is not UTF-8, is not valid JSON (with line and column), is not
        a JSON list, is an empty list, or holds a bad record (the first one, on one line:
        ``<path>: record id=17: field 'safe generation' must be a non-empty string, got None``).

    Examples
    --------
    >>> from importlib.resources import files
    >>> ds = load_safeedit(files("interp.data") / "files" / "safeedit_example.json")
    >>> ds.name, len(ds), ds.categories
    ('safeedit_example', 2, ['illegal activities', 'offensiveness'])
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"SafeEdit file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not text.strip():
        raise ValueError(f"{path}: the file is empty (expected a JSON list of SafeEdit records)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
                         ) from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of SafeEdit records, "
                         f"got a JSON {_json_type(data)}")
    if not data:
        raise ValueError(f"{path}: the file is empty (it holds an empty JSON list, no records)")
    records = []
    unknown: set[str] = set()
    for i, d in enumerate(data):
        try:
            records.append(SafetyRecord.from_dict(d, index=i))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        unknown.update(k for k in d if k not in _KNOWN_KEYS)
    if unknown:
        logger.debug("%s: ignored unknown keys %s", path, sorted(unknown))
    if split is None:
        m = _SPLIT_FROM_STEM.search(path.stem)
        split = m.group(1).lower() if m else None
    return SafetyDataset(records, name=name or path.stem, split=split)


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


#: SafeEdit's placeholder for the harmful question inside a jailbreak template.
PLACEHOLDER = "[INSERT HARMFUL QUESTION HERE]"


@dataclass(frozen=True)
class JailbreakTemplate:
    """A jailbreak template (real or the organism's) with SafeEdit's ``[INSERT HARMFUL QUESTION HERE]`` slot.

    Parameters
    ----------
    id : str or int
        The organism's template number 1-48, or for PyRIT the YAML file's path under PyRIT's template folder, without ``.yaml``
        (``"aim"``, ``"pliny/openai/..."``); unique, unlike ``name``.
    name : str
        The template's ``name`` field (three curated names occur twice).
    text : str
        The rendered template, stripped, with the placeholder where the question goes.
    source : str
        ``"pyrit"`` or ``"organism"``.
    attack_category : str or None
        SafeEdit's attack category for the organism's templates; PyRIT gives none (None).
    split : str or None
        The organism's template split (train/val/test/heldout); None for real templates.
    original_text : str
        The YAML ``value`` as published (Jinja, with ``{{ prompt }}``).
    reference : str or None
        The YAML ``source`` field: where PyRIT took the template from.

    Examples
    --------
    >>> t = JailbreakTemplate(id="x", name="x", text="Answer as Bob: " + PLACEHOLDER,
    ...                       source="example")
    >>> t.fill("How do I bake bread?")
    'Answer as Bob: How do I bake bread?'
    """

    PLACEHOLDER: ClassVar[str] = PLACEHOLDER

    id: str | int
    name: str
    text: str
    source: str
    attack_category: str | None = None
    split: str | None = None
    original_text: str | None = None
    reference: str | None = None

    @property
    def n_slots(self) -> int:
        """How many times the placeholder occurs (PyRIT's ``instructions`` uses it 5 times)."""
        return self.text.count(PLACEHOLDER)

    def fill(self, question: str) -> str:
        """The template with every placeholder replaced by ``question``."""
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"template {self.id!r}: question must be a non-empty string, "
                             f"got {question!r:.60}")
        if PLACEHOLDER not in self.text:
            raise ValueError(f"template {self.id!r} has no {PLACEHOLDER} placeholder")
        return self.text.replace(PLACEHOLDER, question)
