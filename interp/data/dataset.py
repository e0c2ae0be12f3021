"""SafetyDataset: an immutable, named sequence of SafeEdit records with column accessors."""

from __future__ import annotations

import html
import json
import operator
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

from interp.data.records import (
    GENERALIZATION_KINDS,
    KnowledgeConstraint,
    SafetyRecord,
    describe_value,
)

__all__ = ["SafetyDataset"]


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
    >>> from interp.data import load_safeedit
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
            raise ValueError(f"SafetyDataset: name must be a non-empty string, got {describe_value(name)}")
        if split is not None and (not isinstance(split, str) or not split):
            raise ValueError(f"SafetyDataset: split must be a non-empty string or None, "
                             f"got {describe_value(split)}")
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
