"""Old home of the SafeEdit records, datasets and templates; re-exports only.

The code now lives in :mod:`interp.data.records` (one record), :mod:`interp.data.dataset`
(:class:`~interp.data.SafetyDataset`), :mod:`interp.data.safeedit` (:func:`load_safeedit`) and
:mod:`interp.data.templates` (:class:`~interp.data.JailbreakTemplate`). Import from
:mod:`interp.data` instead; this module is kept for code that still imports it.
"""

from __future__ import annotations

from interp.data.dataset import SafetyDataset
from interp.data.records import (
    GENERALIZATION_KINDS,
    GeneralizationTest,
    KnowledgeConstraint,
    SafetyRecord,
)
from interp.data.safeedit import load_safeedit
from interp.data.templates import PLACEHOLDER, JailbreakTemplate

__all__ = [
    "GENERALIZATION_KINDS",
    "PLACEHOLDER",
    "GeneralizationTest",
    "JailbreakTemplate",
    "KnowledgeConstraint",
    "SafetyDataset",
    "SafetyRecord",
    "load_safeedit",
]
