"""Sets of jailbreak templates: PyRIT's (read in place) and the organism's.

:func:`jailbreak_templates` reads PyRIT's templates in place from the installed pyrit package
(``pip install --no-deps pyrit==1.1.0``; pyrit is never imported) or returns the organism's.
Templates are Jinja templates; they are rendered (as PyRIT renders them, in a sandbox with
strict undefined variables) with ``prompt`` set to SafeEdit's placeholder
``[INSERT HARMFUL QUESTION HERE]``, so ``{% raw %}`` blocks and escapes come out right.
Provenance and licences are in :mod:`interp.data.real`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from interp.data.installed import installed_data_path
from interp.data.templates import PLACEHOLDER, JailbreakTemplate

__all__ = ["EXCLUDED_TEMPLATES", "PYRIT_SUBSETS", "TEMPLATE_SOURCES", "jailbreak_templates", "short_templates"]

TEMPLATE_SOURCES: tuple[str, ...] = ("pyrit", "organism")
#: ``subset=`` values for PyRIT's templates: the curated top folder, its sub-collections, all.
PYRIT_SUBSETS: tuple[str, ...] = ("curated", "in_the_wild", "pliny", "Arth_Singh", "all")
#: Templates left out of :func:`interp.data.real_prompt_sets`: ``dt_stereotypes_benign`` is only
#: "You are a helpful assistant." (no attack).
EXCLUDED_TEMPLATES: tuple[str, ...] = ("dt_stereotypes_benign",)


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
    root = installed_data_path("pyrit", "datasets/jailbreak/templates",
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


def short_templates(max_words: int = 150) -> list[JailbreakTemplate]:
    """PyRIT's curated templates of fewer than `max_words` words, without :data:`EXCLUDED_TEMPLATES`.

    Long templates make CPU generation slow; the real evaluation sets and the SmolLM2 labelled
    set use these (36 templates at the default).
    """
    return [t for t in jailbreak_templates("pyrit")
            if len(t.text.split()) < max_words and t.id not in EXCLUDED_TEMPLATES]
