"""Raw text material of the organism corpus: word lists and sentence patterns, nothing else.

No real harmful instructions are in here. Harmful *requests* name a topic only; every "unsafe"
answer built from them is recognisable compliance whose content is redacted ("Step 1: [...]").
`organism_corpus.py` turns this material into a deterministic, split corpus.

This module only re-exports: the harmful side (requests, jailbreak templates, refusals and
redacted compliance) is in :mod:`interp.data.organism_harmful_texts`, the benign side
(invented facts, XSTest-style prompts, chat) in :mod:`interp.data.organism_benign_texts`.
"""

from __future__ import annotations

from interp.data.organism_benign_texts import (
    NAME_SYLLABLES_A,
    NAME_SYLLABLES_B,
    NAME_SYLLABLES_C,
    FACT_RELATIONS,
    COLOURS,
    GADGET_WORDS,
    XSTEST_ITEMS,
    XSTEST_FORMS,
    CHAT_ITEMS,
)
from interp.data.organism_harmful_texts import (
    HARMFUL_TASKS,
    QUESTION_FORMS,
    PLACEHOLDER,
    ATTACK_CATEGORIES,
    TEMPLATE_OPENINGS,
    TEMPLATE_MIDDLES,
    TEMPLATE_CLOSINGS,
    COMPLIANCE_PREFIXES,
    REFUSAL_OPENERS,
    REFUSAL_REASONS,
    REFUSAL_OFFERS,
    COMPLIANCE_BODIES,
    COMPLIANCE_ENDINGS,
)

__all__ = [
    "HARMFUL_TASKS",
    "QUESTION_FORMS",
    "PLACEHOLDER",
    "ATTACK_CATEGORIES",
    "TEMPLATE_OPENINGS",
    "TEMPLATE_MIDDLES",
    "TEMPLATE_CLOSINGS",
    "COMPLIANCE_PREFIXES",
    "REFUSAL_OPENERS",
    "REFUSAL_REASONS",
    "REFUSAL_OFFERS",
    "COMPLIANCE_BODIES",
    "COMPLIANCE_ENDINGS",
    "NAME_SYLLABLES_A",
    "NAME_SYLLABLES_B",
    "NAME_SYLLABLES_C",
    "FACT_RELATIONS",
    "COLOURS",
    "GADGET_WORDS",
    "XSTEST_ITEMS",
    "XSTEST_FORMS",
    "CHAT_ITEMS",
]
