"""The organism's own answers that its judge's error is measured on.

    python scripts/make_organism_labelled_set.py draw  [--out FILE]   # 120 greedy answers, label "?"
    python scripts/make_organism_labelled_set.py check                # answers still match the file?

`draw` samples (random.Random(7)) 50 test-template attack prompts, 25 held-out-template attack
prompts, 25 plain harmful test questions and 20 XSTest-style test prompts from the organism corpus
and writes the shipped organism's greedy 64-token answers as JSONL with an empty label, to be read
and labelled by hand. `check` regenerates them and reports any answer that differs from
interp/data/files/organism_labelled_responses.jsonl (after retraining the organism, relabel).
"""

from __future__ import annotations

import argparse
import json
import random
import sys

import interp
from interp.data.organism_corpus import build_corpus
from interp.evaluate.judges import load_labelled_responses
from interp.evaluate.judges.organism import organism_labelled_set_path

KINDS = (("attack", 50), ("heldout_attack", 25), ("harmful", 25), ("xstest", 20))


def draw(seed: int = 7) -> list[dict]:
    model = interp.load_model("organism")
    corpus, rng = build_corpus(0), random.Random(seed)
    out = []
    for kind, n in KINDS:
        prompts = rng.sample(corpus.prompts(kind, "test"), n)
        answers = interp.generate(model, [p.prompt for p in prompts], max_new_tokens=64, progress=False)
        for i, (p, a) in enumerate(zip(prompts, answers)):
            out.append({"id": f"organism/{kind}/{i:03d}",
                        "prompt_source": "xstest-style" if kind == "xstest" else "organism-harmful",
                        "prompt_id": f"{kind}/{i}", "prompt": p.prompt, "template_id": None, "response": a,
                        "label": "?", "note": "", "split": "heldout", "batch": "v1"})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["draw", "check"])
    parser.add_argument("--out", default="organism_answers_to_label.jsonl")
    args = parser.parse_args()
    fresh = draw()
    if args.command == "draw":
        with open(args.out, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in fresh)
        print(f"wrote {len(fresh)} answers to {args.out}; label each by hand")
        return 0
    shipped = {r.id: r for r in load_labelled_responses(organism_labelled_set_path())}
    differ = [r["id"] for r in fresh if shipped.get(r["id"]) is None or shipped[r["id"]].response != r["response"]]
    print(f"{len(fresh) - len(differ)} of {len(fresh)} answers unchanged; differ: {differ[:10]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
