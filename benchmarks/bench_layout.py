"""Forward-pass speed with and without ``interp.layout.inference_layout``, measured in one run.

Usage::

    python benchmarks/bench_layout.py                                 # the organism
    python benchmarks/bench_layout.py --model smollm2-135m-instruct   # SmolLM2-135M

TransformerLens copies most projection weights on every forward pass; ``inference_layout``
stores them in the order the forward reads them. For each of (a) a prefill of ``--batch``
sequences of ``--pos`` random tokens and (b) one cached one-token decoding step at that batch,
it times the plain model (the baseline) and the model inside the layout (fastest of
``--repeats`` runs each), checks the logits are bitwise equal, and prints the ratio. The
decoding step runs TransformerLens's own forward and key/value cache (not
``interp.decoding.cached_decoding``, whose forwards read the weights in any order), so the
ratio is the layout's alone. It also reports what entering + leaving the layout costs once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def _best(fn, repeats: int) -> tuple[float, torch.Tensor]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="organism")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--pos", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import interp
    from interp.evaluate.generate import last_logits
    from interp.kv_cache import transformer_lens_cache_class
    from interp.layout import inference_layout

    model = interp.load_model(args.model)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, model.cfg.d_vocab, (args.batch, args.pos), generator=gen).to(model.cfg.device)
    mask = torch.ones_like(tokens)
    step = tokens[:, :1]

    def prefill():
        return model(tokens)

    def decode():
        cache = transformer_lens_cache_class().init_cache(model.cfg, model.cfg.device, args.batch)
        last_logits(model, tokens, mask, cache)  # not timed separately: same in both runs
        start = time.perf_counter()
        out = last_logits(model, step, mask[:, :1], cache)
        decode.seconds = time.perf_counter() - start
        return out

    print(f"# model: {args.model} | device: {model.cfg.device} | threads: {torch.get_num_threads()} | "
          f"batch {args.batch} x {args.pos} tokens | fastest of {args.repeats}")
    print(f"{'pass':<22} {'plain s':>9} {'layout s':>9} {'speed-up':>9} {'bitwise equal':>14}")
    with torch.inference_mode():
        prefill()  # warm-up
        rows = []
        t_plain, out_plain = _best(prefill, args.repeats)
        start = time.perf_counter()
        with inference_layout(model):
            t_enter = time.perf_counter() - start
            t_layout, out_layout = _best(prefill, args.repeats)
            rows.append(("prefill", t_plain, t_layout, torch.equal(out_plain, out_layout)))
            d_layout, o_layout = [], None
            for _ in range(args.repeats):
                o_layout = decode()
                d_layout.append(decode.seconds)
            start = time.perf_counter()
        t_exit = time.perf_counter() - start
        d_plain, o_plain = [], None
        for _ in range(args.repeats):
            o_plain = decode()
            d_plain.append(decode.seconds)
        rows.append(("decode step (cached)", min(d_plain), min(d_layout), torch.equal(o_plain, o_layout)))
    for name, a, b, same in rows:
        print(f"{name:<22} {a:>9.4f} {b:>9.4f} {a / b:>8.2f}x {str(same):>14}")
    print(f"entering + leaving the layout once: {t_enter + t_exit:.3f} s")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
