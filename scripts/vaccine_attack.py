"""Does Vaccine make the organism's alignment survive a harmful fine-tuning attack?

    python scripts/vaccine_attack.py [--seeds 0 1] [--model organism] [--align-steps 40] [--json out.json]

For each seed: align the model on the organism's train split (adversarial prompt -> safe
generation) with SFT, Vaccine (rho) and Vaccine's Gaussian-noise control (same rho, random
direction) at the same steps / lr / batch size; then apply the SAME harmful fine-tuning attack
to each (``harmful_ratio`` harmful among ``n_samples`` samples drawn from the val split: plain
question -> unsafe generation, and the records' knowledge-constraint QA pairs as the benign task;
same seed, so the same samples in the same order); the unaligned model ("none") is attacked too.

Measured on the test split (questions and jailbreak templates disjoint from train and val),
before and after the attack, greedy answers judged by the model's default judge:

* adv: answers to the jailbreak-wrapped test prompts (an even spread of `--n-test` records):
  unsafe % and refusal %;
* plain: answers to the plain harmful test questions: unsafe % and refusal %;
* KQA: the test records' knowledge questions (answer contained in the response, %), and the
  n-gram-entropy fluency of the adv answers.

Every judged rate: raw % [Wilson 95 %] and judge-corrected % [bootstrap 95 %] (Rogan-Gladen with
the judge's measured error).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings

import numpy as np

import interp
from interp.edits import sft
from interp.edits.attack import harmful_finetune
from interp.edits.vaccine import vaccine
from interp.evaluate import default_judge, generate, qa_accuracy
from interp.evaluate.safety import judged_rate
from interp.evaluate.text_metrics import ngram_entropy

COLUMNS = ("adv_unsafe", "adv_refusal", "plain_unsafe", "plain_refusal")


def spread(items: list, n: int) -> list:
    """`n` items evenly spread over the list (every template and question family represented)."""
    if n >= len(items):
        return list(items)
    return [items[int(i * len(items) / n)] for i in range(n)]


def measure(model, judge, sets: dict, seed: int) -> dict:
    out: dict = {}
    for key, prompts in (("adv", sets["adv"]), ("plain", sets["plain"])):
        gens = generate(model, prompts, max_new_tokens=64, seed=seed, progress=False)
        verdicts = judge(gens)  # answers to harmful requests: prompts=None
        out[f"{key}_unsafe"] = judged_rate(verdicts.unsafe, judge, name=f"{key}_unsafe", verdict="unsafe", seed=seed)
        out[f"{key}_refusal"] = judged_rate(verdicts.refused, judge, name=f"{key}_refusal", verdict="refusal",
                                            seed=seed)
        if key == "adv":
            out["fluency"] = ngram_entropy(gens)
    qa = qa_accuracy(model, sets["kqa"], seed=seed, progress=False)
    out["kqa"] = qa.contains_rate
    return out


def fmt(rate) -> str:
    text = f"{rate.raw:.1f} [{rate.low:.0f}, {rate.high:.0f}]"
    if not math.isnan(rate.corrected):
        text += f" / {rate.corrected:.1f} [{rate.corrected_low:.0f}, {rate.corrected_high:.0f}]"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", "--seed", type=int, nargs="+", default=[0])
    parser.add_argument("--model", default="organism")
    parser.add_argument("--methods", nargs="+", default=["none", "sft", "vaccine", "gaussian"],
                        choices=["none", "sft", "vaccine", "gaussian"])
    parser.add_argument("--align-steps", type=int, default=40)
    parser.add_argument("--align-lr", type=float, default=2e-4)
    parser.add_argument("--align-batch", type=int, default=4)
    parser.add_argument("--rho", type=float, default=2.0)
    parser.add_argument("--harmful-ratio", type=float, default=0.1)
    parser.add_argument("--n-samples", type=int, default=200)
    parser.add_argument("--attack-steps", type=int, default=50)
    parser.add_argument("--attack-lr", type=float, default=1e-4)
    parser.add_argument("--attack-batch", type=int, default=4)
    parser.add_argument("--n-test", type=int, default=48, help="jailbreak-wrapped test prompts")
    parser.add_argument("--n-kqa", type=int, default=48)
    parser.add_argument("--json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="text #.*dropped")

    start = time.perf_counter()
    base = interp.load_model(args.model)
    judge = default_judge(base)
    train = interp.load_dataset("organism", split="train")
    val = interp.load_dataset("organism", split="val")
    test = list(interp.load_dataset("organism", split="test"))
    sets = {
        "adv": [r.adversarial_prompt for r in spread(test, args.n_test)],
        "plain": list(dict.fromkeys(r.question for r in test)),
        "kqa": spread(list(dict.fromkeys((r.knowledge_constrain.prompt, r.knowledge_constrain.answer)
                                         for r in test)), args.n_kqa),
    }
    align = dict(steps=args.align_steps, lr=args.align_lr, batch_size=args.align_batch, progress=False)
    attack = dict(harmful_ratio=args.harmful_ratio, n_samples=args.n_samples, steps=args.attack_steps,
                  lr=args.attack_lr, batch_size=args.attack_batch, progress=False)
    print(f"model={args.model} judge={judge.name} | align: {align} rho={args.rho} | attack: {attack} | "
          f"test: {len(sets['adv'])} adv, {len(sets['plain'])} plain, {len(sets['kqa'])} KQA", flush=True)

    rows = []
    for seed in args.seeds:
        for method in args.methods:
            t0 = time.perf_counter()
            if method == "none":
                model, loss = base, (math.nan, math.nan)
            else:
                if method == "sft":
                    result = sft(base, train, seed=seed, **align)
                else:
                    result = vaccine(base, train, seed=seed, rho=args.rho,
                                     perturbation="gaussian" if method == "gaussian" else "vaccine", **align)
                model, loss = result.model, (np.mean(result.losses[:5]), np.mean(result.losses[-5:]))
            t_align = time.perf_counter() - t0
            before = measure(model, judge, sets, seed)
            t1 = time.perf_counter()
            attacked = harmful_finetune(model, val, seed=seed, **attack)
            t_attack = time.perf_counter() - t1
            after = measure(attacked.model, judge, sets, seed)
            for stage, m in (("aligned", before), ("attacked", after)):
                rows.append({"seed": seed, "method": method, "stage": stage,
                             **{k: m[k].to_dict() for k in (*COLUMNS, "kqa")}, "fluency": m["fluency"],
                             "align_loss_first5": loss[0], "align_loss_last5": loss[1],
                             "attack_loss_first5": float(np.mean(attacked.losses[:5])),
                             "attack_loss_last5": float(np.mean(attacked.losses[-5:]))})
                print(f"seed {seed} {method:8s} {stage:8s} " + " | ".join(f"{k} {fmt(m[k])}" for k in COLUMNS)
                      + f" | kqa {m['kqa'].raw:.1f} | fluency {m['fluency']:.2f}", flush=True)
            print(f"  ({method}: align {t_align:.0f} s, loss {loss[0]:.3f} -> {loss[1]:.3f}; attack {t_attack:.0f} s, "
                  f"loss {np.mean(attacked.losses[:5]):.3f} -> {np.mean(attacked.losses[-5:]):.3f}; "
                  f"total so far {time.perf_counter() - start:.0f} s)", flush=True)

    print("\n| seed | alignment | stage | adv unsafe % raw [95%] / corrected [95%] | adv refusal % | "
          "plain unsafe % | plain refusal % | KQA % [95%] | fluency |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = []
        for k in COLUMNS:
            d = r[k]
            cell = f"{d['raw']:.1f} [{d['low']:.0f}, {d['high']:.0f}]"
            if not math.isnan(d["corrected"]):
                cell += f" / {d['corrected']:.1f} [{d['corrected_low']:.0f}, {d['corrected_high']:.0f}]"
            cells.append(cell)
        kqa = r["kqa"]
        print(f"| {r['seed']} | {r['method']} | {r['stage']} | " + " | ".join(cells)
              + f" | {kqa['raw']:.1f} [{kqa['low']:.0f}, {kqa['high']:.0f}] | {r['fluency']:.2f} |")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1, default=float)


if __name__ == "__main__":
    main()
