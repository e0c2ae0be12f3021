"""Edit speed: the training core against a plain PyTorch loop, and every edit method's wall time.

Usage::

    python benchmarks/bench_edits.py                                   # the organism
    python benchmarks/bench_edits.py --model smollm2-135m-instruct --steps 3 --repeats 1 --batch-size 4 --threads 1

(a) ``interp.edits.core.train`` with SFT's loss (``mean_answer_nll``) on one fixed batch of
    ``--batch-size`` organism records, against the loop anyone would write by hand (forward,
    loss, ``backward``, ``AdamW.step``) on the same batch, the same trainable parameters and the
    same starting weights, for all parameters and for one matrix (the middle block's
    ``mlp.W_out``). Both loops run alternately in the same process after one warm-up step each;
    every step is timed on its own and the median (and minimum) over ``--steps`` x
    ``--repeats`` steps is compared, in wall time and in this process's CPU time. Both record
    the loss of every step; the losses must agree (to float noise: CPU backward sums are not
    bitwise reproducible from run to run). Goal: core / plain <= 1.1x.
(b) each edit method's wall time (copy, tokenisation, training): sft, dpo, vaccine and
    harmful_finetune (a mix of steps x batch-size samples) with ``--steps`` steps (sft, dpo and
    vaccine on the batch of (a), so every step sees the same records), dinm with
    its 10 steps, scale_toxic_keys (k=7 on a random unit direction: its time does not depend on
    the direction). Methods are looked up at run time (registry, then ``interp.edits``
    attributes, then their modules); a missing one is skipped with a note. "x plain step" is
    wall time / (steps x the plain loop's median all-parameter step from (a)): how far each
    method is from ``steps`` bare optimizer steps.
(c) DINM's edit time (location included) against its floor: 10 plain-loop steps on the same
    trainable matrix with the SFT loss on the same two sequences (the record's edit and
    constraint pairs), full forward passes. DINM edits the first organism train record, or on
    SmolLM2 the first shipped SmolLM2 record (EasyEdit's reference: median 5.0 s on 2 cores).
    DINM caches everything before the edited matrix, so it can beat this floor.

Nothing here asserts a time; record figures with the machine in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

MODULES = {"sft": "sft", "dpo": "dpo", "vaccine": "vaccine", "harmful_finetune": "attack",
           "dinm": "dinm", "scale_toxic_keys": "keys"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _method(name: str):
    """The edit function called `name`, or None: registry, package attribute, then its module."""
    import interp.edits as edits

    registry = getattr(edits, "EDIT_METHODS", {})
    if name in registry:
        return registry[name][1]
    if callable(getattr(edits, name, None)):
        return getattr(edits, name)
    try:
        return getattr(importlib.import_module(f"interp.edits.{MODULES[name]}"), name, None)
    except ImportError:
        return None


def plain_loop(model, batch, names: list[str], steps: int, lr: float, stamps: list | None = None) -> list[float]:
    """The hand-written baseline: forward, loss, backward, AdamW step; nothing else.

    `stamps` gets ``(wall, cpu)`` times at the start of every step and at the end.
    """
    from interp.edits import mean_answer_nll

    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
    opt = torch.optim.AdamW([p for n, p in model.named_parameters() if n in names], lr=lr,
                            weight_decay=0.0)
    losses = []
    for _ in range(steps):
        if stamps is not None:
            stamps.append(_now(model))
        loss = mean_answer_nll(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if stamps is not None:
        stamps.append(_now(model))
    return losses


def core_loop(model, batch, names: list[str], steps: int, lr: float, stamps: list | None = None) -> list[float]:
    """``interp.edits.core.train`` on the same batch; `stamps` as in :func:`plain_loop`."""
    from interp.edits import mean_answer_nll, train

    hook = None if stamps is None else (lambda step, m: stamps.append(_now(m)))
    losses = train(model, [batch], mean_answer_nll, trainable=names, steps=steps, lr=lr,
                   progress=False, shuffle=False, before_step=hook)
    if stamps is not None:
        stamps.append(_now(model))
    return losses


def _now(model) -> tuple[float, float]:
    _sync(next(model.parameters()).device)
    return time.perf_counter(), time.process_time()


def time_core_vs_plain(model, batch, names, *, steps, repeats, lr=1e-5):
    """Per-step (wall, CPU) seconds of the core and the plain loop, and their losses.

    One untimed step of each first (allocator and kernel warm-up), then `repeats` runs of
    `steps` steps each, alternating which loop goes first. Every step is timed on its own (the
    core's ``before_step`` callback, the same points in the plain loop); on a shared machine the
    median and the minimum over all steps resist other processes' bursts far better than the
    mean of a run. CPU time is this process's, all threads.
    """
    from interp.edits import copy_model

    loops = {"core": core_loop, "plain": plain_loop}
    for fn in loops.values():
        fn(copy_model(model), batch, names, 1, lr)
    wall: dict[str, list[float]] = {k: [] for k in loops}
    cpu: dict[str, list[float]] = {k: [] for k in loops}
    losses = {}
    for r in range(repeats):
        for label in (("core", "plain") if r % 2 == 0 else ("plain", "core")):
            twin, stamps = copy_model(model), []
            losses[label] = loops[label](twin, batch, names, steps, lr, stamps)
            wall[label] += [b[0] - a[0] for a, b in zip(stamps, stamps[1:])]
            cpu[label] += [b[1] - a[1] for a, b in zip(stamps, stamps[1:])]
            del twin
    return wall, cpu, losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="organism", help="organism or smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each loop in (a); fastest kept")
    parser.add_argument("--batch-size", type=int, default=8, help="records per step")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default torch's); 1 is far steadier on a busy shared machine")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    import interp
    from interp.edits import answer_batches, select_parameters
    from interp.hooks import mlp_w_out

    model = interp.load_model(args.model)
    device = next(model.parameters()).device
    records = interp.load_dataset("organism", split="train")
    # DINM edits one of the model's own records: SmolLM2's shipped SafeEdit-format file (the
    # records EasyEdit's 5.0 s median was measured on), the organism's train split otherwise
    dinm_records = records if args.model == "organism" else interp.load_dataset(
        Path(interp.__file__).parent / "data" / "files" / "smollm2_safeedit.json")
    batch_records = records[: args.batch_size]
    batch = answer_batches(model, [r.adversarial_prompt for r in batch_records],
                           [r.safe_generation for r in batch_records],
                           batch_size=args.batch_size)[0].to(device)
    print(f"# model: {args.model} | device: {device} | dtype: {next(model.parameters()).dtype} | "
          f"threads: {torch.get_num_threads()} | batch {len(batch)} x {batch.tokens.shape[1]} tokens "
          f"({int(batch.n_answer_tokens)} answer tokens) | {args.steps} steps x {args.repeats} runs "
          f"| load average {os.getloadavg()[0]:.1f}")

    # (a) ------------------------------------------------------------------------------------
    print("\n(a) training core vs plain PyTorch loop, seconds per step: median (min) over "
          f"{args.steps * args.repeats} steps each; CPU = this process's CPU time")
    print(f"{'trainable':<22} {'core s':>16} {'plain s':>16} {'core/plain':>11} {'(min)':>7} "
          f"{'CPU core/plain':>15} {'max |loss diff|':>16}")
    middle = mlp_w_out(model.cfg.n_layers // 2)
    plain_step_all = None
    for label, spec in (("all parameters", "all"), (middle, [middle])):
        names = select_parameters(model, spec)
        wall, cpu, losses = time_core_vs_plain(model, batch, names, steps=args.steps,
                                               repeats=args.repeats)
        med = {k: statistics.median(v) for k, v in wall.items()}
        low = {k: min(v) for k, v in wall.items()}
        cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
        diff = max(abs(a - b) for a, b in zip(losses["core"], losses["plain"]))
        print(f"{label:<22} {med['core']:>7.4f} ({low['core']:.4f}) {med['plain']:>7.4f} ({low['plain']:.4f}) "
              f"{med['core'] / med['plain']:>10.3f}x {low['core'] / low['plain']:>6.3f}x "
              f"{cpu_med['core'] / cpu_med['plain']:>14.3f}x {diff:>16.2e}")
        if plain_step_all is None:
            plain_step_all = med["plain"]

    # (b) ------------------------------------------------------------------------------------
    print("\n(b) edit methods, wall time of one call (one run each; sft / dpo / vaccine on the batch of (a))")
    print(f"{'method':<18} {'steps':>6} {'wall s':>8} {'s/step':>8} {'x plain step':>13}  note")
    data = batch_records  # the same batch every step: "x plain step" compares like with like
    n_mix = args.steps * args.batch_size  # one pass over the harmful fine-tuning mix
    gen = torch.Generator().manual_seed(0)
    direction = torch.randn(model.cfg.d_model, generator=gen)
    calls = {
        "sft": lambda f: f(model, data, steps=args.steps, batch_size=args.batch_size, progress=False),
        "dpo": lambda f: f(model, data, steps=args.steps, batch_size=args.batch_size, progress=False),
        "vaccine": lambda f: f(model, data, steps=args.steps, batch_size=args.batch_size, progress=False),
        "harmful_finetune": lambda f: f(model, records[: 2 * n_mix], steps=args.steps,
                                        batch_size=args.batch_size, n_samples=n_mix, progress=False),
        "dinm": lambda f: f(model, dinm_records[0], steps=10, progress=False),
        "scale_toxic_keys": lambda f: f(model, direction, k=7, factor=10.0, progress=False),
    }
    failed, dinm_result, dinm_wall = 0, None, None
    for name, call in calls.items():
        fn = _method(name)
        if fn is None:
            print(f"{name:<18} {'-':>6} {'-':>8} {'-':>8} {'-':>13}  skipped: not importable yet")
            continue
        try:
            _sync(device)
            start = time.perf_counter()
            result = call(fn)
            _sync(device)
            wall = time.perf_counter() - start
        except Exception as e:  # a method written concurrently may not run yet: report, go on
            failed += 1
            print(f"{name:<18} {'-':>6} {'-':>8} {'-':>8} {'-':>13}  FAILED: {type(e).__name__}: {e}")
            traceback.print_exc(limit=3, file=sys.stderr)
            continue
        steps = len(result.losses)
        per = wall / steps if steps else float("nan")
        floor = wall / (steps * plain_step_all) if steps else float("nan")
        note = ", ".join(result.trainable[:1]) + (" ..." if len(result.trainable) > 1 else "")
        print(f"{name:<18} {steps:>6} {wall:>8.2f} {per:>8.3f} {floor:>12.2f}x  trains {note}")
        if name == "dinm":
            dinm_result, dinm_wall = result, wall

    # (c) ------------------------------------------------------------------------------------
    print("\n(c) DINM against 10 plain-loop steps on the same matrix and the same two sequences")
    if dinm_result is None:
        print("skipped: dinm is not importable yet (or failed above)")
    else:
        rec = dinm_records[0]
        pair = answer_batches(model, [rec.adversarial_prompt, rec.knowledge_constrain.prompt],
                              [rec.safe_generation, rec.knowledge_constrain.answer],
                              batch_size=2)[0].to(device)
        floors = []
        for _ in range(args.repeats):
            twin = interp.edits.copy_model(model)
            _sync(device)
            start = time.perf_counter()
            plain_loop(twin, pair, list(dinm_result.trainable), 10, 5e-4)
            _sync(device)
            floors.append(time.perf_counter() - start)
            del twin
        floor = min(floors)
        print(f"{'dinm edit s':>12} {'floor s':>8} {'dinm/floor':>11}  trainable")
        print(f"{dinm_wall:>12.3f} {floor:>8.3f} {dinm_wall / floor:>10.2f}x  {dinm_result.trainable[0]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
