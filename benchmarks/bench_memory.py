"""Memory per edit method: peak resident memory of one short edit, split into a per-parameter
and a per-token part (the figures docs/gpu.md scales to a 7B model).

    python benchmarks/bench_memory.py                                  # SmolLM2-135M-Instruct
    python benchmarks/bench_memory.py --model organism --steps 2

Each measurement runs in a fresh process: load the model, note the resident memory (RSS), run
one edit of ``--steps`` steps on the shipped SafeEdit-format records (prompts cut to
``--max-length`` tokens), and sample the RSS every 2 ms (psutil). Every method runs at two batch
sizes; the difference gives the bytes per trained token (activations kept for the backward
pass), the rest of the growth divided by the trained parameters gives the bytes per trained
parameter (gradient, float32 master copy, Adam's moments, the copy of the model an edit returns).
Generation (``interp.generate``, 16 prompts, 32 new tokens) is measured the same way.
CPU figures: on a GPU the same tensors live in its memory (weights in bf16 there).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

METHODS = ("dinm", "sft", "dpo", "vaccine", "harmful_finetune", "generate")


def _records(model_name: str):
    from pathlib import Path

    import interp.data
    from interp.data import load_dataset

    if model_name == "organism":
        return list(load_dataset("organism", split="train"))
    return list(load_dataset(Path(interp.data.__file__).parent / "files" / "smollm2_safeedit.json"))


def child(model_name: str, method: str, batch_size: int, steps: int, max_length: int) -> dict:
    import torch
    from peak_rss import PeakRSS

    import interp
    from interp.edits import get_edit

    model = interp.load_model(model_name, device="cpu")
    records = _records(model_name)
    if method == "generate":
        prompts = [r.adversarial_prompt for r in records[:batch_size]]
        with PeakRSS() as mem:
            start = time.perf_counter()
            interp.generate(model, prompts, max_new_tokens=32, batch_size=batch_size, progress=False)
            seconds = time.perf_counter() - start
        trained, tokens = 0, 0
    else:
        _, fn = get_edit(method)
        opts = {} if method == "dinm" else {"steps": steps, "batch_size": batch_size, "max_length": max_length}
        if method == "harmful_finetune":
            opts["n_samples"] = steps * batch_size
        with PeakRSS() as mem:
            start = time.perf_counter()
            edit = fn(model, records[0] if method == "dinm" else records, seed=0, progress=False, **opts)
            seconds = time.perf_counter() - start
        before, after = dict(model.named_parameters()), dict(edit.model.named_parameters())
        trained = sum(p.numel() for n, p in before.items() if not torch.equal(p, after[n]))
        tokens = batch_size * max_length
    return {"method": method, "batch_size": batch_size, "rss_load": mem.start, "rss_peak": mem.peak,
            "n_params": sum(p.numel() for p in model.parameters()), "trained": trained, "tokens": tokens,
            "seconds": seconds}


def _run(args: argparse.Namespace, method: str, batch_size: int) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--model", args.model, "--steps", str(args.steps),
           "--max-length", str(args.max_length), "--batch-sizes", str(batch_size)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{method} batch {batch_size} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-sizes", default="1,4", help="two batch sizes (the per-token slope)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.child:
        print(json.dumps(child(args.model, args.child, sizes[0], args.steps, args.max_length)))
        return 0

    gb = 2 ** 30
    print(f"## peak memory per method, {args.model}, {args.steps} steps, prompts cut to {args.max_length} tokens, "
          f"CPU float32\n")
    print("| method | batch | load GB | peak GB | growth GB | trained params | bytes / trained param | "
          "bytes / token | seconds |\n|---|---|---|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        small, large = (_run(args, method, b) for b in sizes)
        grow = [r["rss_peak"] - r["rss_load"] for r in (small, large)]
        # DINM has no batch (one record) and generation trains no tokens: no slope to fit there
        per_token = ((grow[1] - grow[0]) / (large["tokens"] - small["tokens"])
                     if large["tokens"] > small["tokens"] else float("nan"))
        fixed = grow[0] - (per_token * small["tokens"] if per_token == per_token else 0.0)
        per_param = fixed / small["trained"] if small["trained"] else float("nan")
        for r, g in zip((small, large), grow):
            print(f"| {method} | {r['batch_size']} | {r['rss_load'] / gb:.2f} | {r['rss_peak'] / gb:.2f} | "
                  f"{g / gb:.2f} | {r['trained'] / 1e6:.1f} M | {per_param:.1f} | {per_token / 1e3:.1f} k | "
                  f"{r['seconds']:.1f} |")
    print("\nbytes / trained param: growth at the smaller batch minus its tokens' share, over the parameters the "
          "edit changed (DINM: its whole growth, the returned copy of the model included, over one W_out); "
          "bytes / token: the growth's slope between the two batch sizes (batch x max-length tokens: exact when "
          "every sequence reaches max-length, an overestimate of the tokens -- so an underestimate of the slope -- "
          "for the attack's short samples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
