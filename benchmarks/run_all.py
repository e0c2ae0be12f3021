"""Run every benchmark, each in its own process, and print their tables.

    python benchmarks/run_all.py              # organism-sized runs (a few minutes on 2 CPU cores)
    python benchmarks/run_all.py --smollm2    # also SmolLM2-135M (generation vs HF, layout, loading,
                                              # edits; ~35 min)

Every benchmark measures its baseline in the same run and prints ratios; nothing here asserts a
time. Record the figures, with the machine, in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smollm2", action="store_true", help="also the SmolLM2-135M benchmarks")
    args = parser.parse_args(argv)
    runs = [
        ["bench_generate.py"],
        ["bench_layout.py"],
        ["bench_activations.py"],
        # one torch thread: the core-vs-plain ratio is steadiest there on a shared 2-core machine
        ["bench_edits.py", "--threads", "1"],
        ["bench_sae.py", "--sequences", "1000", "--epochs", "2"],
        ["bench_compare.py"],
        ["bench_ray.py", "--workers", "2"],
        ["bench_memory.py", "--model", "organism"],
    ]
    if args.smollm2:
        runs += [
            ["bench_generate.py", "--model", "smollm2-135m-instruct", "--repeats", "2"],
            ["bench_layout.py", "--model", "smollm2-135m-instruct"],
            ["bench_load.py"],
            ["bench_edits.py", "--model", "smollm2-135m-instruct", "--steps", "3", "--repeats", "1",
             "--batch-size", "4", "--threads", "1"],
            ["bench_sae.py", "--model", "smollm2-135m-instruct", "--layer", "15", "--sequences", "400"],
            ["bench_memory.py", "--model", "smollm2-135m-instruct"],
        ]
    failed = 0
    for cmd in runs:
        print(f"\n## {' '.join(cmd)}", flush=True)
        start = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        print(f"# exit {rc}, {time.perf_counter() - start:.0f} s", flush=True)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
