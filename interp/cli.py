"""Command line: ``interp compare`` (the main job), ``interp organism train|card``, ``interp report``,
``interp behaviour``.

Heavy libraries are imported inside each command, so ``interp --help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path


def _organism_train(args: argparse.Namespace) -> int:
    from interp.organism.train import WEIGHTS_DIR, OrganismConfig, train_organism

    overrides = {k: v for k, v in (("seed", args.seed), ("steps", args.steps)) if v is not None}
    out = train_organism(args.out or WEIGHTS_DIR, config=OrganismConfig(**overrides),
                         device=args.device, progress=not args.quiet)
    print(f"organism written to {out}")
    return 0


def _organism_card(args: argparse.Namespace) -> int:
    from interp.models import load_model
    from interp.organism.card import organism_card

    model = load_model(args.model, device=args.device)
    card = organism_card(model, n_attack=args.n_attack, n_records=args.n_records,
                         seed=args.seed, progress=not args.quiet, device=args.device)
    print(card)
    if args.json:
        Path(args.json).write_text(json.dumps(card.to_dict(), indent=1))
        print(f"card written to {args.json}")
    return 0 if card.passed else 1


def _report(args: argparse.Namespace) -> int:
    from interp.report import build_stage_report

    start = time.perf_counter()
    report = build_stage_report(args.model, seed=args.seed, device=args.device,
                                n_records=args.n_records, progress=not args.quiet)
    path = report.to_html(args.out)
    print(report.summary())
    print(f"report written to {path} ({time.perf_counter() - start:.0f} s)")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from interp.compare import compare_mechanisms

    start = time.perf_counter()
    layer_sweep = {"auto": None, "on": True, "off": False}[args.layer_sweep]
    executor = None
    if args.executor == "ray":
        from interp.executors import RayExecutor

        executor = RayExecutor(args.workers, num_gpus=args.gpus_per_task)
    result = compare_mechanisms(args.model, [m.strip() for m in args.methods.split(",") if m.strip()],
                                n_instances=args.n_instances, n_eval=args.n_eval,
                                seeds=[int(s) for s in args.seeds.split(",")], attack=not args.no_attack,
                                layer_sweep=layer_sweep, device=args.device, executor=executor,
                                progress=not args.quiet)
    path = result.to_html(args.out)
    if args.json:
        result.to_json(args.json)
        print(f"results written to {args.json}")
    print(result)
    print(f"report written to {path} ({time.perf_counter() - start:.0f} s)")
    return 0


def _behaviour(args: argparse.Namespace) -> int:
    from interp.data import load_fact_questions, real_prompt_sets
    from interp.evaluate import behaviour_row, load_labelled_responses
    from interp.models import load_model

    start = time.perf_counter()
    model = load_model(args.model, device=args.device)
    # questions of the judge's labelled set are never drawn, so the judge has not seen them
    seen = {r.prompt_id for r in load_labelled_responses()}
    sets = real_prompt_sets(args.n, seed=args.seed, exclude_ids=seen)
    benign = {"xstest-style": sets.pop("xstest-style")}
    row = behaviour_row(model, sets, benign=benign, qa=load_fact_questions(),
                        max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=args.seed,
                        progress=not args.quiet, device=args.device)
    print(row)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "n": args.n, "seed": args.seed,
                                               **row.to_dict()}, indent=1, ensure_ascii=False))
        print(f"row written to {args.json}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interp", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    org = sub.add_parser("organism", help="train the model organism or print its card")
    org_sub = org.add_subparsers(dest="organism_command", required=True)
    train = org_sub.add_parser("train", help="train the organism from scratch (~30 min on CPU)")
    train.add_argument("--out", help="output folder (default: the package's weights folder)")
    train.add_argument("--seed", type=int)
    train.add_argument("--steps", type=int)
    train.add_argument("--device")
    train.set_defaults(func=_organism_train)
    card = org_sub.add_parser("card", help="measure the organism's behaviour on held-out data")
    card.add_argument("--model", default="organism")
    card.add_argument("--n-attack", type=int, default=270)
    card.add_argument("--n-records", type=int, default=90)
    card.add_argument("--seed", type=int, default=0)
    card.add_argument("--device")
    card.add_argument("--json", help="also write the card as JSON here")
    card.set_defaults(func=_organism_card)

    cmp_ = sub.add_parser("compare", help="apply DINM, SFT, DPO and Vaccine to a model, measure what each changed "
                                           "inside it, test the published claims; write an HTML report")
    cmp_.add_argument("--model", default="organism",
                      help="organism, smollm2-135m-instruct, a local HF folder or a TransformerLens name")
    cmp_.add_argument("--methods", default="dinm,sft,dpo,vaccine", help="comma-separated edit methods")
    cmp_.add_argument("--n-instances", type=int, default=3, help="DINM single-record edits per seed")
    cmp_.add_argument("--n-eval", type=int, default=None, help="evaluation records (default: the model's profile)")
    cmp_.add_argument("--seeds", default="0", help="comma-separated seeds")
    cmp_.add_argument("--no-attack", action="store_true", help="skip the harmful fine-tuning attack (permanence, HED)")
    cmp_.add_argument("--layer-sweep", choices=("auto", "on", "off"), default="auto",
                      help="DINM at every layer for the located-layer claim (auto: on for the organism)")
    cmp_.add_argument("--out", default="report.html")
    cmp_.add_argument("--json", help="also write every number as JSON here")
    cmp_.add_argument("--device")
    cmp_.add_argument("--executor", choices=("serial", "ray"), default="serial",
                      help="run each (method, seed, record) here, or as Ray tasks (RAY_ADDRESS or a local cluster)")
    cmp_.add_argument("--workers", type=int, default=None, help="CPUs of a local Ray cluster (default: all)")
    cmp_.add_argument("--gpus-per-task", type=float, default=0, help="each Ray task's GPU request")
    cmp_.set_defaults(func=_compare)

    rep = sub.add_parser("report", help="locate, probe and evaluate a model; write an HTML report")
    rep.add_argument("--model", default="organism")
    rep.add_argument("--out", default="report.html")
    rep.add_argument("--n-records", type=int, default=60)
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--device")
    rep.set_defaults(func=_report)

    beh = sub.add_parser("behaviour", help="refusal / unsafe / over-refusal / QA row of a real model "
                                           "on HarmBench, Do-Not-Answer (plain and in PyRIT templates)")
    beh.add_argument("--model", default="smollm2-135m-instruct")
    beh.add_argument("--n", type=int, default=100, help="questions per harmful set (default 100)")
    beh.add_argument("--max-new-tokens", type=int, default=64)
    beh.add_argument("--batch-size", type=int, default=16)
    beh.add_argument("--seed", type=int, default=0)
    beh.add_argument("--device")
    beh.add_argument("--json", help="also write the row, with every generation and label, as JSON here")
    beh.set_defaults(func=_behaviour)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
