"""Locate SmolLM2-135M-Instruct's toxic layer on SafeEdit-format records built from real prompts.

    python scripts/smollm2_locate.py [--questions 160] [--out interp/data/files/smollm2_safeedit.json]

1. Records: :func:`interp.evaluate.build_safeedit` on HarmBench and Do-Not-Answer questions that are
   not in the real-text judge's labelled set. The unsafe answer is SmolLM2's own greedy answer
   (default system prompt) when the real-text judge calls it unsafe; the safe answer is its own
   greedy continuation of a prefilled refusal opener under a refusing system prompt when the judge
   calls it a refusal. So every
   record's pair differs. Adversarial prompts use PyRIT templates of < 150 words.
2. ``locate_over`` with every method, and ``easyedit`` without the first position.
3. The first position's "massive activations": per layer, the norm of the residual stream at
   position 0 over the median norm of the other positions (answers alone, as EasyEdit reads
   them), and the share of EasyEdit's squared distance that position 0 contributes.

Prints a markdown summary; writes the records as a SafeEdit JSON file.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[1] / "interp" / "data" / "files" / "smollm2_safeedit.json"


def first_position_stats(model, dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Per layer: median over answers of norm(pos 0) / median norm(other positions), and the mean
    share of EasyEdit's squared distance contributed by position 0 (answers alone, unpadded pairs)."""
    from interp.hooks import resid_post
    from interp.locate import locate_toxic_layer

    names = [resid_post(layer) for layer in range(model.cfg.n_layers)]
    tok = model.tokenizer
    ratios, shares = [], []
    for rec in dataset:
        for text in (rec.safe_generation, rec.unsafe_generation):
            ids = torch.tensor([tok(text, add_special_tokens=True)["input_ids"][: model.cfg.n_ctx]])
            _, cache = model.run_with_cache(ids, names_filter=lambda n: n in names)
            norms = torch.stack([cache[n][0].norm(dim=-1) for n in names])  # (n_layers, pos)
            ratios.append(norms[:, 0] / norms[:, 1:].median(dim=1).values)
        full = locate_toxic_layer(model, rec, method="easyedit").distances
        rest = locate_toxic_layer(model, rec, method="easyedit", drop_first_position=True).distances
        shares.append(1 - rest.square() / full.square())
    return torch.stack(ratios).median(dim=0).values, torch.stack(shares).mean(dim=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=120, help="questions tried (half HarmBench)")
    parser.add_argument("--out", default=str(SHIPPED))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import interp
    from interp.data import load_fact_questions, real_prompt_sets
    from interp.data.template_sources import short_templates
    from interp.evaluate import build_safeedit, load_labelled_responses
    from interp.locate import LOCATE_METHODS, locate_over

    t0 = time.perf_counter()
    model = interp.load_model("smollm2-135m-instruct", device="cpu", dtype="float32")
    seen = {r.prompt_id for r in load_labelled_responses()}
    sets = real_prompt_sets(args.questions // 2, seed=args.seed + 1, exclude_ids=seen)
    questions = [q for pair in zip(sets["harmbench"], sets["donotanswer"]) for q in pair]
    templates = short_templates(150)
    knowledge = [(q.prompt, q.answer) for q in load_fact_questions()]
    ds = build_safeedit(model, questions, templates, knowledge, seed=args.seed,
                        name="smollm2", progress=True)
    t_build = time.perf_counter() - t0
    ds.to_json(args.out)
    print(f"# {len(ds)} records from {len(questions)} questions ({t_build:.0f} s), written to {args.out}")
    safe_distinct = len({r.safe_generation for r in ds})
    unsafe_distinct = len({r.unsafe_generation for r in ds})
    print(f"# distinct safe answers {safe_distinct}, distinct unsafe answers {unsafe_distinct}")

    print("\n| method | located layers (count) |\n|---|---|")
    summaries = {}
    for method in LOCATE_METHODS:
        summaries[method] = locate_over(model, ds, method=method, progress=False)
    summaries["easyedit, first position dropped"] = locate_over(model, ds, method="easyedit",
                                                                drop_first_position=True, progress=False)
    for name, s in summaries.items():
        counts = Counter(loc.layer for loc in s.localizations)
        print(f"| {name} | " + ", ".join(f"L{k}: {v}" for k, v in sorted(counts.items())) + " |")

    ratio, share = first_position_stats(model, ds)
    print("\n| layer | norm(pos 0) / median norm(other) | pos-0 share of EasyEdit distance^2 |\n|---|---|---|")
    for layer in range(model.cfg.n_layers):
        print(f"| {layer} | {ratio[layer]:.1f} | {100 * share[layer]:.1f} % |")
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
