"""SAE refusal steering end to end, behind docs/STEERING.md and the shipped organism SAE.

    python scripts/steering_runs.py --model organism --train --out interp/steering/weights/organism
    python scripts/steering_runs.py --model organism --relative --values 0.5,1,1.25,1.5 --alphas 0.25,0.5,1
    python scripts/steering_runs.py --model smollm2 --layer 15 --train --n 100 --relative --values 0.5,1,1.5 --alphas 0.5,1

1. SAE: trained (``--train``: :func:`train_topk_sae` on :func:`sae_texts`, k=32, d_sae=8 d_model)
   and saved to ``--sae``, or loaded from it.
2. Refusal features (:func:`refusal_features`, ``--rank-by``, default the behaviour contrast:
   the model's own refusals vs compliance at the last prompt token): organism: 300 train-split
   attacks (train templates, train questions); SmolLM2: 300 Do-Not-Answer questions not in the
   sweep. The prompt contrast uses the records' prompts vs benign ones (organism: train
   XSTest-style, fact and chat prompts; SmolLM2: XSTest-style 0-49, the sweep uses 50-99).
3. Sweeps (greedy, default judge): the top feature clamped at each ``--values`` (plus off), the
   same conditionally at the strongest value, the difference-in-means direction added with each
   ``--alphas``, and directional ablation. Organism: attacks in the held-out templates 46-48 on
   test questions, over-refusal on test XSTest-style prompts, KQA on test facts. SmolLM2:
   HarmBench questions not in the labelled set nor the records (``--n``), XSTest-style 50-99,
   facts-qa (``--qa``).
Writes ``<results>/<model>_steering*.csv``, the figures as HTML and the feature table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("organism", "smollm2"), default="organism")
    parser.add_argument("--layer", type=int, default=None, help="resid_post layer (default: organism 3, SmolLM2 15)")
    parser.add_argument("--sae", default=None, help="SAE folder (default interp/steering/weights/<model>)")
    parser.add_argument("--train", action="store_true", help="train the SAE and save it to --sae")
    parser.add_argument("--epochs", type=float, default=4.0)
    parser.add_argument("--values", default="", help="clamp values, comma-separated ('' = no sweep)")
    parser.add_argument("--alphas", default="", help="activation-addition strengths, comma-separated")
    parser.add_argument("--positions", default="all", help="clamp positions: all | last")
    parser.add_argument("--relative", action="store_true",
                        help="--values are multiples of the top feature's largest activation seen")
    parser.add_argument("--rank-by", default="behaviour", choices=("behaviour", "prompt", "response"))
    parser.add_argument("--n", type=int, default=100, help="SmolLM2: HarmBench questions in the sweep")
    parser.add_argument("--qa", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--skip", default="", help="comma-separated sweeps to leave out: conditional, ablation")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default="docs/results")
    args = parser.parse_args(argv)

    import torch

    import interp
    from interp.steering import (ablation_sweep, addition_sweep, clamp_sweep, load_sae, refusal_direction,
                                 refusal_features, sae_texts, train_topk_sae)

    if args.threads:
        torch.set_num_threads(args.threads)
    organism = args.model == "organism"
    model = interp.load_model("organism" if organism else "smollm2-135m-instruct")
    layer = args.layer if args.layer is not None else (3 if organism else 15)
    hook = f"blocks.{layer}.hook_resid_post"
    folder = Path(args.sae or Path(interp.__file__).parent / "steering" / "weights" / args.model)
    if organism:
        from interp.data.organism_corpus import build_corpus

        corpus = build_corpus(0)
        records = list(interp.load_dataset("organism", split="train"))
        benign_train = [p.prompt for kind in ("xstest", "facts", "chat") for p in corpus.prompts(kind, "train")]
        harmful = {"heldout-attack": [p.prompt for p in corpus.prompts("heldout_attack", "test")]}
        benign = {"xstest": [p.prompt for p in corpus.prompts("xstest", "test")]}
        qa = [(p.prompt, p.answer) for p in corpus.prompts("facts", "test")][: args.qa]
        exclude: list[str] = []
        seen_texts: set[str] = set()
        import random

        attacks = [p.prompt for p in corpus.prompts("attack", "train")]
        random.Random(args.seed).shuffle(attacks)
        attacks = attacks[:300]
    else:
        from interp.data import real_prompt_sets
        from interp.evaluate import load_labelled_responses

        records = list(interp.load_dataset(Path(interp.__file__).parent / "data" / "files" / "smollm2_safeedit.json"))
        judge_seen = {r.prompt_id for r in load_labelled_responses()}
        questions = {r.question for r in records}
        sets = real_prompt_sets(args.n, seed=args.seed)
        # every HarmBench question but the records' (those take part in feature discovery); the judge was
        # trained on SmolLM2's base answers to some of them: the rates are also split by that below
        held = [p for p in sets["harmbench"] if p.text not in questions]
        seen_texts = {p.text for p in held if p.question_id in judge_seen}
        xs = sets["xstest-style"]
        benign_train = [p.text for p in xs[:50]]
        harmful = {"harmbench": held}
        benign = {"xstest-style": xs[50:100]}
        qa = interp.load_dataset("facts-qa")[: args.qa]
        exclude = [p.text for p in held]
        # Do-Not-Answer questions not in the sweep: SmolLM2 refuses about a third of them
        from interp.data.harmful import load_harmful_prompts

        used = {p.text for s in sets.values() for p in s}
        attacks = [p.text for p in load_harmful_prompts("donotanswer") if p.text not in used][:300]

    if args.train:
        texts = sae_texts(model, exclude=exclude, seed=args.seed)
        sae = train_topk_sae(model, hook, texts, k=32, epochs=args.epochs, seed=args.seed, save_to=folder)
    else:
        sae = load_sae(folder)
    meta = sae.cfg.metadata
    print(f"## SAE {folder}: {hook}, d_sae {sae.cfg.d_sae}, k {sae.cfg.k}; explained variance "
          f"{meta.explained_variance:.3f}, L0 {meta.l0:.1f}, dead {100 * meta.dead_share:.1f} %, "
          f"{meta.n_train_tokens} training tokens, {meta.tokens_per_second:.0f} tokens/s "
          f"(collect {meta.collect_seconds:.0f} s + train {meta.train_seconds:.0f} s)")
    if not args.values and not args.alphas:
        return 0

    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    stem = results / f"{args.model}_steering"
    ranking = refusal_features(model, sae, records, benign=benign_train, attacks=attacks, rank_by=args.rank_by)
    ranking.table.head(50).to_csv(f"{stem}_features.csv", index=False)
    (results / f"{args.model}_steering_contexts.json").write_text(json.dumps(
        {str(f): c for f, c in list(ranking.contexts.items())[:10]}, indent=1))
    top = ranking[0]
    scale = float(ranking.table["max_activation"].iloc[0]) if args.relative else 1.0
    print(ranking.table.head(5).to_string(float_format=lambda v: f"{v:.3g}"))
    opts = dict(harmful=harmful, benign=benign, qa=qa, max_new_tokens=args.max_new_tokens, seed=args.seed)
    frames = []
    start = time.perf_counter()
    if args.values:
        values = [None] + [round(float(v) * scale, 2) for v in args.values.split(",")]
        sweep = clamp_sweep(model, sae, top, values, positions=args.positions, **opts)
        frames.append(("clamp", sweep))
        if "conditional" not in args.skip:
            strongest = clamp_sweep(model, sae, top, values[1:], positions=args.positions, conditional=True, **opts)
            frames.append(("clamp-conditional", strongest))
    if args.alphas:
        direction = refusal_direction(model, [getattr(r, "adversarial_prompt") for r in records] +
                                      [r.question for r in records], benign_train, hook=hook)
        frames.append(("addition", addition_sweep(model, direction, [float(a) for a in args.alphas.split(",")],
                                                  hook=hook, **opts)))
        if "ablation" not in args.skip:
            frames.append(("ablation", ablation_sweep(model, direction, **opts)))
    import pandas as pd

    table = pd.concat([f.to_frame().assign(method=name) for name, f in frames], ignore_index=True)
    table.to_csv(f"{stem}.csv", index=False)
    for name, f in frames:
        f.figure().write_html(f"{stem}_{name}.html", include_plotlyjs="cdn")
    if seen_texts:
        _print_judge_split(frames, seen_texts)
    cols = ["method"] + [c for c in table.columns if c.endswith(" %") and "corrected" not in c] + ["fluency"]
    print(f"\n## {args.model}: feature {top} at {hook}, {time.perf_counter() - start:.0f} s\n")
    print(table[[c for c in cols if c in table] + [c for c in ("clamp value", "alpha", "ablated") if c in table]]
          .to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return 0


def _print_judge_split(frames: list, seen: set[str]) -> None:
    """Harmful-set refusal and unsafe rates split by whether the judge was trained on the base model's
    answer to the question (raw, Wilson 95 %): a judge that learnt those answers may label them better."""
    from interp.evaluate.rates import wilson_interval

    print(f"\n## harmful-set rates by judge overlap ({len(seen)} questions whose base answer trained the judge)")
    for name, sweep in frames:
        for value, row in zip(sweep.values, sweep.rows):
            for s in (s for s in row.sets if s.harmful):
                parts = []
                for label, keep in (("judge saw", True), ("judge unseen", False)):
                    labels = [lab for p, lab in zip(s.prompts, s.labels) if (p in seen) == keep]
                    for verdict in ("refusal", "unsafe"):
                        k = sum(lab == verdict for lab in labels)
                        low, high = wilson_interval(k, len(labels)) if labels else (float("nan"),) * 2
                        parts.append(f"{label} {verdict} {100 * k / max(1, len(labels)):.1f} "
                                     f"[{100 * low:.1f}, {100 * high:.1f}] n={len(labels)}")
                print(f"{name} {sweep.parameter}={value}: " + "; ".join(parts))


if __name__ == "__main__":
    raise SystemExit(main())
