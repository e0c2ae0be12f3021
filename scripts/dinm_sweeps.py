"""DINM sweeps behind docs/DINM.md: over layers (does the located layer edit best?) and over lr x steps.

    python scripts/dinm_sweeps.py --model organism --what layers --records 20
    python scripts/dinm_sweeps.py --model smollm2 --what layers --records 10 --layers 3,9,15,21,22,27,29 --qa 20 --set c_edit=0.1
    python scripts/dinm_sweeps.py --model organism --what grid --records 20 --grid lr=5e-4,2e-3,5e-3,1e-2 layer=0,5
    python scripts/dinm_sweeps.py --model smollm2 --what grid --records 20 --grid kl_grad=True,False --name kl_grad

Organism records: the test split; SmolLM2 records: the shipped SafeEdit-format file, KQA on
facts-qa (50 questions). Writes ``<out>/<model>_<what>.csv`` (one row per record and setting),
``..._summary.csv``, ``..._rates.csv`` (pooled, judge-corrected), ``..._located.csv`` and the figure
as HTML, and prints the summary as markdown.
"""

from __future__ import annotations

import argparse
import ast
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("organism", "smollm2"), default="organism")
    parser.add_argument("--what", choices=("layers", "grid"), default="layers")
    parser.add_argument("--records", type=int, default=10)
    parser.add_argument("--first", type=int, default=0, help="index of the first record")
    parser.add_argument("--layers", default=None, help="comma-separated (default every layer)")
    parser.add_argument("--grid", nargs="+", default=["lr=5e-4,1e-3,2e-3,5e-3,1e-2"],
                        help="grid: DINM option=comma-separated values (Python literals)")
    parser.add_argument("--set", nargs="+", default=[], metavar="OPTION=VALUE",
                        help="fixed DINM options for every edit (Python literals), e.g. c_edit=0.1")
    parser.add_argument("--name", default=None, help="file stem (default <model>_<what>)")
    parser.add_argument("--qa", type=int, default=50, help="SmolLM2: first N facts-qa questions for KQA")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/results")
    args = parser.parse_args(argv)

    import torch

    import interp
    from interp.edits import dinm_sweep, layer_sweep

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model == "organism":
        model = interp.load_model("organism")
        records = list(interp.load_dataset("organism", split="test"))
        qa = None
    else:
        model = interp.load_model("smollm2-135m-instruct")
        records = list(interp.load_dataset(Path(interp.__file__).parent / "data" / "files" / "smollm2_safeedit.json"))
        qa = interp.load_dataset("facts-qa")[: args.qa]
    records = records[args.first: args.first + args.records]
    fixed = {key: ast.literal_eval(value) for key, value in (item.split("=", 1) for item in args.set)}
    start = time.perf_counter()
    if args.what == "layers":
        layers = None if args.layers is None else [int(x) for x in args.layers.split(",")]
        sweep = layer_sweep(model, records, layers, qa=qa, seed=args.seed, **fixed)
    else:
        grid = {key: [ast.literal_eval(v) for v in values.split(",")]
                for key, values in (item.split("=", 1) for item in args.grid)}
        sweep = dinm_sweep(model, records, grid, qa=qa, seed=args.seed, **fixed)
    seconds = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / (args.name or f"{args.model}_{args.what}")
    sweep.to_frame().to_csv(f"{stem}.csv", index=False)
    summary = sweep.summary()
    summary.to_csv(f"{stem}_summary.csv", index=False)
    sweep.pooled_rates().to_csv(f"{stem}_rates.csv", index=False)
    sweep.figure().write_html(f"{stem}.html", include_plotlyjs="cdn")
    cols = [c for c in summary.columns if not c.endswith(("_std", "_before")) or c.startswith("refusal_gen")]
    print(f"## {args.model} {args.what}: {len(records)} records (from {args.first}), {seconds:.0f} s, "
          f"KQA before {sweep.kqa_before:.1f} on {sweep.n_qa}\n")
    print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.what == "layers":
        located = sweep.located_vs_best()
        located.to_csv(f"{stem}_located.csv", index=False)
        print()
        print(located.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
