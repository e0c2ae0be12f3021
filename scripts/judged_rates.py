"""Raw and judge-corrected rates on the organism and on SmolLM2-135M-Instruct, as one table.

    python scripts/judged_rates.py [--n-records 90] [--seed 0] [--json rates.json] [--models organism ...]

Organism: SafeEdit DS / DG on the first `n` test records, refusal of the plain harmful test
questions, over-refusal of the XSTest-style test prompts, each judged by the organism's judge.
SmolLM2: DS / DG on the 37 shipped SafeEdit-format records (interp/data/files/smollm2_safeedit.json),
judged by the real-text judge. Every row: n, raw % [Wilson 95 %], corrected % [bootstrap 95 %].
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.resources import files

import interp
from interp.data.organism_corpus import build_corpus
from interp.evaluate import Rate, evaluate_safety, over_refusal, refusal_rate


def rows_for(model_name: str, n_records: int, seed: int) -> list[tuple[str, Rate]]:
    model = interp.load_model(model_name)
    out: list[tuple[str, Rate]] = []
    if model_name == "organism":
        corpus = build_corpus(0)
        records = list(corpus.records("test"))[:n_records]
        refused = refusal_rate(model, [p.prompt for p in corpus.prompts("harmful", "test")], seed=seed)
        over = over_refusal(model, [p.prompt for p in corpus.prompts("xstest", "test")], seed=seed)
        out += [("refusal (plain harmful)", refused.estimate), ("over-refusal (XSTest-style)", over.estimate)]
    else:
        records = list(interp.load_safeedit(files("interp.data") / "files" / "smollm2_safeedit.json"))
    scores = evaluate_safety(model, records, seed=seed)
    out += [(key, scores.rates[key]) for key in ("ds", "dg_only_q", "dg_other_a", "dg_other_q", "dg_other_aq",
                                                  "dg_avg")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-records", type=int, default=90)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json")
    parser.add_argument("--models", nargs="+", default=["organism", "smollm2-135m-instruct"])
    args = parser.parse_args()
    table = []
    print("| model | rate | judge | n | raw % [Wilson 95 %] | corrected % [bootstrap 95 %] |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        t0 = time.perf_counter()
        for label, r in rows_for(name, args.n_records, args.seed):
            print(f"| {name} | {label} | {r.judge} | {r.n} | {r.raw:.1f} [{r.low:.1f}, {r.high:.1f}] | "
                  f"{r.corrected:.1f} [{r.corrected_low:.1f}, {r.corrected_high:.1f}] |", flush=True)
            table.append({"model": name, "rate": label, **r.to_dict()})
        print(f"<!-- {name}: {time.perf_counter() - t0:.0f} s -->", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=1)


if __name__ == "__main__":
    main()
