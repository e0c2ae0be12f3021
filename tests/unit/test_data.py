"""SafeEdit schema: exact JSON layout, one-line validation errors, SafetyDataset behaviour."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import types
from importlib.resources import files
from pathlib import Path

import pytest

import interp.data as data
from interp.data import (
    GENERALIZATION_KINDS,
    GeneralizationTest,
    KnowledgeConstraint,
    SafetyDataset,
    SafetyRecord,
    load_dataset,
    load_safeedit,
)

EXAMPLE = Path(str(files("interp.data") / "files" / "safeedit_example.json"))

TOP_TEXT = ["unsafety category", "adversarial prompt", "question", "attack category",
            "attack name", "unsafe generation", "safe generation"]
GT_KEYS = ["test input of only harmful question", "test input of other attack prompt input",
           "attack_category", "attack_name", "test input of other question input",
           "test input of other questions and attack prompts"]
KC_KEYS = ["prompt", "answer"]

# (path of keys, is required); nested paths are (object key, inner key)
ALL_FIELDS = ([(("id",), True)] + [((k,), True) for k in TOP_TEXT]
              + [(("generalization test",), False), (("knowledge constrain",), True)]
              + [(("generalization test", k), True) for k in GT_KEYS]
              + [(("knowledge constrain", k), True) for k in KC_KEYS])


@pytest.fixture()
def raw() -> list[dict]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def _write(tmp_path: Path, obj: object, name: str = "SafeEdit_test.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj, indent=4), encoding="utf-8")
    return path


def _field_repr(path: tuple[str, ...]) -> str:
    return ".".join(repr(p) for p in path)


# ---- exact layout and round trip ---------------------------------------------------------


def test_example_round_trip_is_exact(raw):
    ds = load_safeedit(EXAMPLE)
    assert len(ds) == 2 and ds.name == "safeedit_example" and ds.split is None
    out = ds.to_dicts()
    assert out == raw
    for got, want in zip(out, raw):  # same key order as the published layout
        assert list(got) == list(want)
        assert list(got["generalization test"]) == list(want["generalization test"])
        assert list(got["knowledge constrain"]) == list(want["knowledge constrain"])


def test_attributes_map_to_json_keys(raw):
    rec = SafetyRecord.from_dict(raw[0])
    d = raw[0]
    assert rec.id == 0 and isinstance(rec.id, int)
    assert rec.unsafety_category == d["unsafety category"]
    assert rec.adversarial_prompt == d["adversarial prompt"]
    assert rec.question == d["question"]
    assert rec.attack_category == d["attack category"]
    assert rec.attack_name == d["attack name"]
    assert rec.unsafe_generation == d["unsafe generation"]          # kept as is, "\n\n" and all
    assert rec.unsafe_generation.startswith("\n\n")
    assert rec.safe_generation == d["safe generation"]
    gt, gd = rec.generalization_test, d["generalization test"]
    assert gt.attack_category == gd["attack_category"] and gt.attack_name == gd["attack_name"]
    assert gt.only_harmful_question == gd["test input of only harmful question"]
    assert gt.other_attack_prompt == gd["test input of other attack prompt input"]
    assert gt.other_question == gd["test input of other question input"]
    assert gt.other_questions_and_attack == gd["test input of other questions and attack prompts"]
    assert rec.knowledge_constrain == KnowledgeConstraint(**d["knowledge constrain"])


def test_string_id_kept_and_unknown_keys_ignored(raw):
    d = dict(raw[0], id="abc-1", extra_key={"anything": 1})
    rec = SafetyRecord.from_dict(d)
    assert rec.id == "abc-1"
    assert "extra_key" not in rec.to_dict()


def test_missing_generalization_test_is_allowed(raw):
    d = copy.deepcopy(raw[0])
    del d["generalization test"]
    rec = SafetyRecord.from_dict(d)
    assert rec.generalization_test is None
    assert rec.to_dict() == d
    ds = SafetyDataset([rec], name="x")
    with pytest.raises(ValueError, match=r"id=0 has no 'generalization test'"):
        ds.generalization_inputs("other_question")


def test_records_are_frozen(raw):
    rec = SafetyRecord.from_dict(raw[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.question = "changed"  # type: ignore[misc]
    assert hash(rec) == hash(SafetyRecord.from_dict(raw[0]))


# ---- one-line errors for every field -----------------------------------------------------


def _set(d: dict, path: tuple[str, ...], value: object) -> None:
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _delete(d: dict, path: tuple[str, ...]) -> None:
    target = d
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]


@pytest.mark.parametrize("path", [p for p, required in ALL_FIELDS if required],
                         ids=lambda p: ".".join(p))
def test_missing_field_one_line_error(raw, tmp_path, path):
    bad = copy.deepcopy(raw)
    _delete(bad[1], path)
    file = _write(tmp_path, bad)
    with pytest.raises(ValueError) as err:
        load_safeedit(file)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(file) in msg
    assert _field_repr(path) in msg
    assert "missing" in msg
    # a record without id is named by its index
    assert ("record #1" in msg) if path == ("id",) else ("record id=1" in msg)


MISTYPED = ([(("id",), v) for v in (None, 1.5, True, "", [1])]
            + [((k,), v) for k in TOP_TEXT for v in (None, 5, "", "   ")]
            + [(("generalization test",), v) for v in ("text", None, [1])]
            + [(("knowledge constrain",), v) for v in ("text", None, 3)]
            + [(("generalization test", k), v) for k in GT_KEYS for v in (None, 7, " ")]
            + [(("knowledge constrain", k), v) for k in KC_KEYS for v in (None, ["a"], "")])


@pytest.mark.parametrize(("path", "value"), MISTYPED,
                         ids=[f"{'.'.join(p)}={v!r}" for p, v in MISTYPED])
def test_mistyped_field_one_line_error(raw, path, value):
    bad = copy.deepcopy(raw[1])
    _set(bad, path, value)
    with pytest.raises(ValueError) as err:
        SafetyRecord.from_dict(bad, index=4)
    msg = str(err.value)
    assert "\n" not in msg
    assert _field_repr(path) in msg
    assert "must be" in msg and "got" in msg
    assert ("record #4" in msg) if path == ("id",) else msg.startswith("record id=1:")


def test_error_message_matches_documented_form(raw):
    bad = dict(raw[0], id=17)
    bad["safe generation"] = None
    with pytest.raises(ValueError) as err:
        SafetyRecord.from_dict(bad)
    assert str(err.value) == ("record id=17: field 'safe generation' must be a non-empty "
                              "string, got None")
    nested = copy.deepcopy(raw[0])
    nested["generalization test"]["test input of other question input"] = 3
    with pytest.raises(ValueError) as err:
        SafetyRecord.from_dict(nested)
    assert str(err.value) == ("record id=0: field 'generalization test'.'test input of other "
                              "question input' must be a non-empty string, got int 3")


def test_long_bad_value_is_shortened_to_one_line(raw):
    bad = dict(raw[0], question=["x" * 500 + "\n" * 10])
    with pytest.raises(ValueError) as err:
        SafetyRecord.from_dict(bad)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_record_that_is_not_an_object(tmp_path, raw):
    file = _write(tmp_path, [raw[0], "just text"])
    with pytest.raises(ValueError, match=r"record #1: expected a JSON object, got 'just text'"):
        load_safeedit(file)


def test_first_bad_record_is_reported(tmp_path, raw):
    a, b = copy.deepcopy(raw)
    a["question"], b["answer"] = None, None
    with pytest.raises(ValueError, match=r"record id=0: field 'question'"):
        load_safeedit(_write(tmp_path, [a, b]))


def test_direct_construction_is_validated(raw):
    rec = SafetyRecord.from_dict(raw[0])
    with pytest.raises(ValueError, match=r"SafetyRecord id=0: field 'safe generation'"):
        dataclasses.replace(rec, safe_generation="")
    with pytest.raises(ValueError, match=r"field 'id' must be an int or a non-empty string"):
        dataclasses.replace(rec, id=None)
    with pytest.raises(ValueError, match=r"'knowledge constrain' must be a KnowledgeConstraint"):
        dataclasses.replace(rec, knowledge_constrain={"prompt": "p", "answer": "a"})
    with pytest.raises(ValueError, match=r"'generalization test'.'attack_name'"):
        dataclasses.replace(rec.generalization_test, attack_name=None)


# ---- file-level errors -------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "   \n\n"], ids=["empty", "whitespace"])
def test_empty_file(tmp_path, content):
    file = tmp_path / "SafeEdit_val.json"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"the file is empty"):
        load_safeedit(file)


def test_empty_list(tmp_path):
    with pytest.raises(ValueError, match=r"empty JSON list"):
        load_safeedit(_write(tmp_path, []))


def test_not_a_list(tmp_path, raw):
    with pytest.raises(ValueError, match=r"expected a JSON list of SafeEdit records, got a JSON "
                                         r"object"):
        load_safeedit(_write(tmp_path, raw[0]))


def test_invalid_json_names_path_and_line(tmp_path):
    file = tmp_path / "broken.json"
    file.write_text('[\n  {"id": 0,\n   "question": "a"\n   "x": 1}\n]', encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_safeedit(file)
    msg = str(err.value)
    assert str(file) in msg and "invalid JSON at line 4" in msg and "\n" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="SafeEdit file not found"):
        load_safeedit(tmp_path / "nope.json")


def test_utf8_bom_is_accepted(tmp_path, raw):
    file = tmp_path / "bom.json"
    file.write_bytes(b"\xef\xbb\xbf" + json.dumps(raw).encode("utf-8"))
    assert len(load_safeedit(file)) == 2


@pytest.mark.parametrize(("stem", "split"), [("SafeEdit_train", "train"), ("SafeEdit_val", "val"),
                                             ("SafeEdit_test", "test"),
                                             ("SafeEdit_test_ALL", "test"), ("mine", None)])
def test_split_from_file_name(tmp_path, raw, stem, split):
    ds = load_safeedit(_write(tmp_path, raw, f"{stem}.json"))
    assert (ds.name, ds.split) == (stem, split)


# ---- SafetyDataset -----------------------------------------------------------------------


@pytest.fixture()
def ds() -> SafetyDataset:
    return load_safeedit(EXAMPLE)


def test_sequence_protocol(ds):
    assert isinstance(ds[0], SafetyRecord) and ds[-1] is ds[1]
    assert [r.id for r in ds] == [0, 1]
    part = ds[1:]
    assert isinstance(part, SafetyDataset) and len(part) == 1 and part[0] is ds[1]
    assert (part.name, part.split) == (ds.name, ds.split)
    assert ds[::-1].records == (ds[1], ds[0])
    with pytest.raises(IndexError, match=r"index 2 out of range"):
        ds[2]
    with pytest.raises(TypeError, match=r"indices must be integers or slices"):
        ds["0"]  # type: ignore[call-overload]
    assert ds[1] in ds and ds.index(ds[1]) == 1


def test_immutable(ds):
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ds.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        ds[0] = ds[1]  # type: ignore[index]


def test_filter_and_by_category(ds):
    off = ds.filter(lambda r: r.unsafety_category == "offensiveness")
    assert [r.id for r in off] == [1] and off.name == ds.name
    groups = ds.by_category()
    assert list(groups) == ["illegal activities", "offensiveness"] == ds.categories
    assert all(isinstance(g, SafetyDataset) and len(g) == 1 for g in groups.values())


def test_columns(ds, raw):
    assert ds.adversarial_prompts() == [d["adversarial prompt"] for d in raw]
    assert ds.questions() == [d["question"] for d in raw]
    assert ds.safe_generations() == [d["safe generation"] for d in raw]
    assert ds.unsafe_generations() == [d["unsafe generation"] for d in raw]
    assert [k.answer for k in ds.knowledge_constraints()] == [
        d["knowledge constrain"]["answer"] for d in raw]
    keys = dict(zip(GENERALIZATION_KINDS, ["test input of only harmful question",
                                           "test input of other attack prompt input",
                                           "test input of other question input",
                                           "test input of other questions and attack prompts"]))
    for kind, key in keys.items():
        assert ds.generalization_inputs(kind) == [d["generalization test"][key] for d in raw]
    with pytest.raises(ValueError, match=r"unknown generalization kind 'other'; valid kinds"):
        ds.generalization_inputs("other")


def test_to_json_round_trip(ds, tmp_path, raw):
    path = ds.to_json(tmp_path / "out.json")
    assert json.loads(path.read_text(encoding="utf-8")) == raw
    back = load_safeedit(path, name=ds.name)
    assert back == ds and hash(back) == hash(ds)
    assert ds[:1].to_json(tmp_path / "one.json") and len(load_safeedit(tmp_path / "one.json")) == 1


def test_from_records_and_constructor_checks(ds, raw):
    built = SafetyDataset.from_records(raw, name="x", split="test")
    assert list(built) == list(ds) and built.split == "test"
    mixed = SafetyDataset.from_records([ds[0], raw[1]], name="x")
    assert list(mixed) == list(ds)
    with pytest.raises(ValueError, match=r"record #1: field 'id' is missing"):
        SafetyDataset.from_records([raw[0], {k: v for k, v in raw[1].items() if k != "id"}])
    with pytest.raises(TypeError, match=r"item #0 must be a SafetyRecord, got dict"):
        SafetyDataset(raw, name="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"name must be a non-empty string"):
        SafetyDataset([], name="")


def test_repr_and_html(ds):
    text = repr(ds)
    assert text == ("SafetyDataset(name='safeedit_example', split=None, n=2, "
                    "categories={'illegal activities': 1, 'offensiveness': 1})")
    evil = dataclasses.replace(ds[0], question="<script>alert(1)</script>")
    page = SafetyDataset([evil], name="x")._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page


# ---- load_dataset ------------------------------------------------------------------------


def test_load_dataset_json_path(ds, tmp_path):
    assert load_dataset(str(EXAMPLE)) == ds
    assert load_dataset(EXAMPLE) == ds
    with pytest.raises(ValueError, match=r"split= does not apply"):
        load_dataset(EXAMPLE, split="test")


def test_load_dataset_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        load_dataset("safeedit")
    msg = str(err.value)
    for name in ("'organism'", "'harmbench'", "'donotanswer'", ".json"):
        assert name in msg


def test_load_dataset_organism_delegates(monkeypatch, ds):
    calls = []

    class FakeCorpus:
        def records(self, split):
            calls.append(split)
            return ds

    def build_corpus(seed=0):
        calls.append(("seed", seed))
        return FakeCorpus()

    fake = types.ModuleType("interp.data.organism_corpus")
    fake.build_corpus = build_corpus
    monkeypatch.setitem(sys.modules, "interp.data.organism_corpus", fake)
    assert load_dataset("organism") is ds
    assert load_dataset("organism", split="heldout", seed=3) is ds
    assert calls == [("seed", 0), "train", ("seed", 3), "heldout"]
    with pytest.raises(ValueError, match=r"unknown organism split 'dev'; valid splits"):
        load_dataset("organism", split="dev")


def test_exports():
    for name in ("SafetyRecord", "SafetyDataset", "GeneralizationTest", "KnowledgeConstraint",
                 "load_safeedit", "load_dataset", "jailbreak_templates", "HarmfulPrompt",
                 "load_harmful_prompts"):
        assert name in data.__all__ and hasattr(data, name)
    assert GeneralizationTest.__dataclass_params__.frozen
