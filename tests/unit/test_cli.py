"""The command line: parser, and `interp behaviour` end to end on the tiny model."""

import json

import pytest

from interp.cli import build_parser, main


def test_parser_knows_every_command():
    parser = build_parser()
    for argv in (["organism", "card"], ["organism", "train"], ["report"], ["behaviour"], ["compare"]):
        assert callable(parser.parse_args(argv).func)
    with pytest.raises(SystemExit):
        parser.parse_args(["nope"])
    args = parser.parse_args(["compare", "--methods", "dinm,sft", "--seeds", "0,1", "--layer-sweep", "off"])
    assert (args.model, args.methods, args.seeds, args.layer_sweep) == ("organism", "dinm,sft", "0,1", "off")


def test_compare_rejects_an_unknown_method(capsys):
    with pytest.raises(ValueError, match="unknown detox methods"):
        main(["-q", "compare", "--methods", "sft,nope"])


def test_behaviour_writes_the_row(tiny_gpt2_dir, tmp_path, capsys):
    out = tmp_path / "row.json"
    rc = main(["-q", "behaviour", "--model", str(tiny_gpt2_dir), "--n", "5", "--max-new-tokens", "3",
               "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| harmbench | 5 |" in printed and "QA: contains" in printed
    row = json.loads(out.read_text())
    assert [s["set"] for s in row["sets"]] == ["harmbench", "donotanswer", "harmbench+pyrit",
                                               "donotanswer+pyrit", "xstest-style"]
    assert all(len(s["generations"]) == s["n"] for s in row["sets"]) and row["qa"]["n"] == 50
    assert row["judge"] == "smollm2-real-text"
