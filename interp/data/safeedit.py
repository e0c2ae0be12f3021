"""Read a published SafeEdit JSON file (``SafeEdit_train.json``, ...) into a :class:`SafetyDataset`.

The file is a JSON list of records in SafeEdit's layout (see :mod:`interp.data.records`). Every
problem -- a missing or empty file, bad UTF-8 or JSON, a bad record -- raises a one-line error
naming the file, and for a record its id and the exact JSON field.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from interp.data.dataset import SafetyDataset
from interp.data.records import SAFEEDIT_KEYS, SafetyRecord

__all__ = ["load_safeedit"]

logger = logging.getLogger(__name__)

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
        unknown.update(k for k in d if k not in SAFEEDIT_KEYS)
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
