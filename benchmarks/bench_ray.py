"""The comparison on Ray workers against the serial run, same model, same seeds, same run.

    python benchmarks/bench_ray.py                     # the organism (make demo's settings), 2 workers
    python benchmarks/bench_ray.py --workers 4 --model smollm2-135m-instruct

Runs ``compare_mechanisms(model)`` serially (torch on all cores), then with
``executor=RayExecutor(num_workers=W)`` (a local cluster; each task one CPU, so torch one thread
per task), and prints both wall times, their ratio, Ray's start-up, and the largest difference
between the two tables (0 when the tasks computed the same numbers). Record the figures, with
the machine, in benchmarks/RESULTS.md.

What bounds the ratio on one machine: the cores (W tasks at once, each on one thread instead of
the serial run's all), the longest task (the tail: Vaccine and SFT are several times DINM's),
the probe, location and layer sweep that stay serial, and per-task overheads (worker start-up
and imports, the model through the object store).
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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the serial run's numbers here (MechanismComparison.to_json)")
    args = parser.parse_args(argv)

    import pandas as pd
    import ray
    import torch

    import interp
    from interp.compare import compare_mechanisms
    from interp.executors import RayExecutor

    model = interp.load_model(args.model)
    methods = args.methods.split(",")
    start = time.perf_counter()
    serial = compare_mechanisms(model, methods, progress=False)
    serial_s = time.perf_counter() - start
    if args.json:
        serial.to_json(args.json)

    start = time.perf_counter()
    runner = RayExecutor(num_workers=args.workers)
    runner.start()  # start the local cluster outside the timed comparison, and time it apart
    ray_start_s = time.perf_counter() - start
    start = time.perf_counter()
    distributed = compare_mechanisms(model, methods, executor=runner, progress=False)
    ray_s = time.perf_counter() - start
    runner.shutdown()

    a, b = serial.table, distributed.table
    numeric = [c for c in a.columns if not c.endswith("_seconds") and pd.api.types.is_numeric_dtype(a[c])]
    by_column = (a[numeric].astype(float) - b[numeric].astype(float)).abs().max()
    worst = str(by_column.idxmax()) if by_column.notna().any() else "-"
    diff = float(by_column.max())
    print(f"## compare_mechanisms({args.model!r}), {len(a)} models; {os.cpu_count()} cores; torch {torch.__version__}, "
          f"ray {ray.__version__}\n")
    print("| run | seconds | ratio |\n|---|---|---|")
    print(f"| serial (torch on {torch.get_num_threads()} threads) | {serial_s:.1f} | 1.00x |")
    print(f"| Ray, {args.workers} workers (1 thread per task) | {ray_s:.1f} | {serial_s / ray_s:.2f}x faster |")
    print(f"| Ray start-up (not in the row above) | {ray_start_s:.1f} | |")
    serial_stages = serial.meta["stage_seconds"]
    ray_stages = distributed.meta["stage_seconds"]
    for stage in serial_stages:
        print(f"| - {stage}: serial / Ray | {serial_stages[stage]:.1f} / {ray_stages.get(stage, float('nan')):.1f} | |")
    longest = b.loc[b["edit_seconds"].add(b["measure_seconds"]).idxmax()]
    print(f"\nlongest task: {longest['method']} {longest['instance']} "
          f"({longest['edit_seconds'] + longest['measure_seconds']:.1f} s on one thread)")
    print(f"largest difference between the two tables (every numeric column but times): {diff:.3g} in {worst!r} "
          f"(its values: {float(a[worst].abs().max()) if worst != '-' else 0:.3g} at most)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
