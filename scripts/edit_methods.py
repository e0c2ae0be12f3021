"""SFT and DPO (and any registered edit) before/after, behind docs/EDITS.md.

    python scripts/edit_methods.py --model organism --methods sft,dpo --set sft:steps=30
    python scripts/edit_methods.py --model smollm2 --methods sft,dpo --set sft:lr=1e-5,steps=10 dpo:lr=5e-6,steps=10

Organism: trained on the train split, scored with ``evaluate_safety`` on test[:60] (DS, DG,
KQA, fluency; raw and judge-corrected). SmolLM2: trained on the shipped SafeEdit-format records
(each record twice: its jailbreak-wrapped prompt and its plain question -> its own safe / unsafe
answer), scored with ``behaviour_row`` on HarmBench and Do-Not-Answer questions not among the
training questions (n each), the 100 XSTest-style prompts and facts-qa. Prints the tables and
each method's wall time; writes ``<out>/<model>_edits.json``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def parse_sets(items: list[str]) -> dict[str, dict[str, object]]:
    """``["sft:steps=30,lr=1e-4"]`` -> ``{"sft": {"steps": 30, "lr": 1e-4}}``."""
    out: dict[str, dict[str, object]] = {}
    for item in items:
        method, _, rest = item.partition(":")
        out[method] = {k: ast.literal_eval(v) for k, v in (kv.split("=", 1) for kv in rest.split(",") if kv)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("organism", "smollm2"), default="organism")
    parser.add_argument("--methods", default="sft,dpo")
    parser.add_argument("--set", nargs="*", default=[], help="method:option=value,... (Python literals)")
    parser.add_argument("--n", type=int, default=100, help="SmolLM2: questions per harmful set")
    parser.add_argument("--retain", action="store_true",
                        help="SmolLM2: add its own answers to the labelled set's benign prompts (not in the "
                             "evaluation sets) as (prompt -> answer) training samples")
    parser.add_argument("--skip-base", action="store_true", help="do not score the unedited model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="docs/results")
    args = parser.parse_args(argv)

    import torch

    import interp
    from interp.data import real_prompt_sets
    from interp.edits import get_edit
    from interp.evaluate import behaviour_row, evaluate_safety

    if args.threads:
        torch.set_num_threads(args.threads)
    options = parse_sets(args.set)
    results: dict[str, dict[str, object]] = {}
    if args.model == "organism":
        model = interp.load_model("organism")
        train = interp.load_dataset("organism", split="train", seed=args.seed)
        test = interp.load_dataset("organism", split="test", seed=args.seed)[:60]

        def score(m):
            s = evaluate_safety(m, test, seed=args.seed, progress=False)
            print(s)
            return s.to_dict()
    else:
        model = interp.load_model("smollm2-135m-instruct")
        records = list(interp.load_dataset(Path(interp.__file__).parent / "data" / "files" / "smollm2_safeedit.json"))
        train = [*records, *(dataclasses.replace(r, adversarial_prompt=r.question) for r in records)]
        questions = {r.question for r in records}
        sets = real_prompt_sets(args.n + 40, seed=args.seed)
        harmful = {k: [p for p in sets[k] if p.text not in questions][: args.n] for k in ("harmbench", "donotanswer")}
        benign = {"xstest-style": sets["xstest-style"]}
        qa = interp.load_dataset("facts-qa")
        if args.retain:
            from interp.evaluate import load_labelled_responses

            held = {p.text for p in benign["xstest-style"]} | {q.prompt for q in qa}
            train += [{"adversarial prompt": r.prompt, "safe generation": r.response}
                      for r in load_labelled_responses() if r.prompt_source == "benign" and r.prompt not in held]
            print(f"training samples: {len(train)} (with the benign retention answers)")

        def score(m):
            row = behaviour_row(m, harmful, benign=benign, qa=qa, seed=args.seed, progress=False)
            print(row)
            return row.to_dict()

    if not args.skip_base:
        start = time.perf_counter()
        results["base"] = {"scores": score(model), "eval_seconds": time.perf_counter() - start}
    for method in args.methods.split(","):
        _, fn = get_edit(method)
        result = fn(model, train, seed=args.seed, **options.get(method, {}))
        print(f"## {method} {options.get(method, {})}: {result.seconds:.1f} s, loss {result.losses[0]:.3f} -> "
              f"{result.losses[-1]:.3f}")
        results[method] = {"options": options.get(method, {}), "seconds": result.seconds,
                           "losses": result.losses, "scores": score(result.model)}
        del result
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.model}_edits{'_' + '_'.join(args.methods.split(',')) if args.skip_base else ''}"
                                              f"{'_retain' if args.retain else ''}.json").write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
