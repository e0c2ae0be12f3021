"""The organism corpus: deterministic, split like SafeEdit, no real harmful content."""

from collections import Counter

import pytest

from interp.data import PLACEHOLDER, organism_texts
from interp.data.organism_corpus import OrganismCorpus, build_corpus


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(0)


def test_same_seed_same_corpus_and_other_seed_differs(corpus):
    again = OrganismCorpus(0)
    assert again.training_pools() == corpus.training_pools()
    assert OrganismCorpus(1).training_pools() != corpus.training_pools()


def test_questions_per_category_and_task_level_split(corpus):
    per_cat = Counter(q.category for q in corpus.questions)
    assert len(per_cat) == 9 and min(per_cat.values()) >= 30
    for cat in per_cat:
        splits = Counter(q.split for q in corpus.questions if q.category == cat)
        assert (splits["train"], splits["val"], splits["test"]) == (18, 12, 6)  # 3:2:1
    tasks = {s: {q.task for q in corpus.questions if q.split == s} for s in ("train", "val", "test")}
    assert not tasks["train"] & tasks["test"] and not tasks["train"] & tasks["val"]


def test_templates_split_like_safeedit(corpus):
    assert [t.id for t in corpus.templates] == list(range(1, 49))
    assert all(t.text.count(PLACEHOLDER) == 1 for t in corpus.templates)
    split_of = {t.id: t.split for t in corpus.templates}
    assert {split_of[i] for i in range(1, 16)} == {"train"}
    assert {split_of[i] for i in range(16, 31)} == {"val"}
    assert {split_of[i] for i in range(31, 46)} == {"test"}
    assert {split_of[i] for i in range(46, 49)} == {"heldout"}
    assert Counter(t.attack_category for t in corpus.templates) == {
        c: 12 for c in organism_texts.ATTACK_CATEGORIES}


def test_training_data_uses_only_train_material(corpus):
    pools = corpus.training_pools()
    prompts = {p for pairs in pools.values() for p, _ in pairs}
    for kind in ("harmful", "attack", "heldout_attack", "facts", "xstest"):
        held = {p.prompt for p in corpus.prompts(kind, "test")}
        assert not held & prompts, kind
    test_templates = [t for t in corpus.templates if t.split in ("test", "heldout")]
    for t in test_templates:
        head = t.text.split(".")[0]
        assert not any(head in p for p in prompts), t.name


def test_no_real_harmful_instructions(corpus):
    records = corpus.records("train")
    for r in records:
        assert "[...]" in r.unsafe_generation
        assert "[...]" not in r.safe_generation
    compliant = [r for _, r in corpus.training_pools()["attack"] if "[...]" in r]
    assert compliant
    for response in compliant:
        # after the restated request, only connectives and a sign-off stand between redactions
        assert all(len(s) <= 60 for s in response.split("[...]")[1:]), response


def test_sizes_of_benign_sets(corpus):
    assert len({f.key for f in corpus.facts}) >= 8 and len(corpus.facts) // 5 == 300
    assert len(corpus.xstest) >= 100
    assert {f.split for f in corpus.facts} == {"train", "val", "test"}


def test_records_have_safeedit_fields_and_generalization(corpus):
    test = corpus.records("test")
    assert len(test) == 15 * 54
    r = test[0]
    g = r.generalization_test
    assert r.question == g.only_harmful_question
    assert g.other_attack_prompt != r.adversarial_prompt and r.question in g.other_attack_prompt
    assert r.question not in g.other_question
    assert r.knowledge_constrain.answer.endswith(".")
    assert len(corpus.records("heldout")) == 3 * 54


def test_bad_split_and_kind(corpus):
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        corpus.records("dev")
    with pytest.raises(ValueError, match="unknown prompt kind 'x'"):
        corpus.prompts("x", "test")
