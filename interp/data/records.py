"""SafeEdit's record layout as frozen dataclasses: one record, parsed and validated.

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENERALIZATION_KINDS",
    "SAFEEDIT_KEYS",
    "GeneralizationTest",
    "KnowledgeConstraint",
    "SafetyRecord",
    "describe_value",
]

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
#: Every top-level key of a published SafeEdit record (others are ignored when reading).
SAFEEDIT_KEYS = frozenset({"id", *_RECORD_TEXT_KEYS.values(), _GT_FIELD, _KC_FIELD})


# --------------------------------------------------------------------------------------------
# validation helpers (one-line messages)
# --------------------------------------------------------------------------------------------


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` of a value, on one line and at most ``limit`` characters."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def describe_value(value: Any) -> str:
    """A value for an error message: ``'text'`` / ``None`` as is, else ``"<type> <repr>"``."""
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
            f"{label}: field {_field_name(path)} must be a non-empty string, got {describe_value(value)}"
        )


def _require(d: Mapping[str, Any], key: str, path: tuple[str, ...], label: str,
             expected: str) -> Any:
    if key not in d:
        raise ValueError(f"{label}: field {_field_name(path)} is missing (expected {expected})")
    return d[key]


def _require_object(d: Mapping[str, Any], key: str, label: str) -> Mapping[str, Any]:
    value = _require(d, key, (key,), label, "a JSON object")
    if not isinstance(value, Mapping):
        raise ValueError(f"{label}: field {key!r} must be a JSON object, got {describe_value(value)}")
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
                             f"got {describe_value(self.id)}")
        label = f"SafetyRecord id={self.id}"
        for attr, key in _RECORD_TEXT_KEYS.items():
            _check_text(getattr(self, attr), (key,), label)
        if not (self.generalization_test is None
                or isinstance(self.generalization_test, GeneralizationTest)):
            raise ValueError(f"{label}: field {_GT_FIELD!r} must be a GeneralizationTest or "
                             f"None, got {describe_value(self.generalization_test)}")
        if not isinstance(self.knowledge_constrain, KnowledgeConstraint):
            raise ValueError(f"{label}: field {_KC_FIELD!r} must be a KnowledgeConstraint, "
                             f"got {describe_value(self.knowledge_constrain)}")

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
            raise ValueError(f"{where}: expected a JSON object, got {describe_value(d)}")
        record_id = d.get("id")
        label = _record_label(record_id, index)
        _require(d, "id", ("id",), label, "an int or a non-empty string")
        if not _valid_id(record_id):
            raise ValueError(f"{label}: field 'id' must be an int or a non-empty string, "
                             f"got {describe_value(record_id)}")
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

