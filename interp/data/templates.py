"""A jailbreak template with SafeEdit's ``[INSERT HARMFUL QUESTION HERE]`` slot.

:class:`JailbreakTemplate` holds one template (the organism's or a real one); the readers of
template sets are in :mod:`interp.data.template_sources`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["PLACEHOLDER", "JailbreakTemplate"]

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


# --------------------------------------------------------------------------------------------
# reading templates
# --------------------------------------------------------------------------------------------
#: Sources accepted by :func:`jailbreak_templates`.
