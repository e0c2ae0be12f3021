"""Stage times of ``compare_mechanisms`` (the README's main job), against the cost of one
evaluation of the base model measured in the same run.

    python benchmarks/bench_compare.py                                  # organism, the demo's settings
    python benchmarks/bench_compare.py --model smollm2-135m-instruct    # SmolLM2 (about an hour on 2 cores)

Prints, per stage (probe and location, the base, each method's edit and its measurements split
into evaluation / mechanisms / attack (training, evaluation, HED) / key scaling, the layer sweep),
the seconds and the ratio to one base evaluation (SafeEdit scores + over-refusal):
how many evaluations' worth of time each stage costs. Record the figures in RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="organism")
    parser.add_argument("--methods", default="dinm,sft,dpo,vaccine")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    import interp
    from interp.compare import compare_mechanisms
    from interp.compare.data import comparison_data, profile_for
    from interp.compare.measure import evaluate_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model = interp.load_model(args.model)
    profile = profile_for(args.model)
    data = comparison_data(args.model, model, n_instances=3)
    start = time.perf_counter()
    evaluate_model(model, data.eval_records, data.benign, max_new_tokens=profile["max_new_tokens"], seed=0)
    unit = time.perf_counter() - start
    result = compare_mechanisms(model, args.methods.split(","), progress=True)
    print(f"## compare_mechanisms({args.model!r}): {result.meta['seconds']:.0f} s in all; one base evaluation "
          f"({len(data.eval_records)} records + {len(data.benign)} safe prompts) = {unit:.1f} s\n")
    print("| stage | seconds | / one evaluation |\n|---|---|---|")
    for stage, seconds in result.meta["stage_seconds"].items():
        print(f"| {stage} | {seconds:.1f} | {seconds / unit:.1f}x |")
    for _, row in result.table.iterrows():
        label = f"{row['method']}{' record ' + str(row['instance']) if row['instance'] else ''}"
        print(f"| {label}: edit | {row['edit_seconds']:.1f} | {row['edit_seconds'] / unit:.1f}x |")
        print(f"| {label}: measurements (3 evaluations, attack, HED, flow, ...) | {row['measure_seconds']:.1f} | "
              f"{row['measure_seconds'] / unit:.1f}x |")
        for stage in ("evaluate", "mechanisms", "attack", "keys"):
            seconds = row.get(f"{stage}_seconds")
            if seconds is not None and seconds == seconds:
                print(f"| {label}: - {stage} | {seconds:.1f} | {seconds / unit:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
