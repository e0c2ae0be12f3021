"""Generation throughput: ``interp.generate`` at batch 1 vs batch 32, and vs Hugging Face ``generate``.

Usage::

    python benchmarks/bench_generate.py                      # the organism (batch 1 vs 32)
    python benchmarks/bench_generate.py --model smollm2-135m-instruct   # + HF generate, batch 1 / 16
    python benchmarks/bench_generate.py --model path/to/hf_folder --hf  # any local folder
    python benchmarks/bench_generate.py --repeats 3          # fastest of 3 runs per configuration

The HF comparison times ``interp.generate`` and HF ``generate`` alternately (one run of each per
repeat), so both see the same machine load; the table keeps the fastest run of each.

Everything is measured in one run, greedy, on the same prompts (the organism corpus's test
prompts: plain harmful questions, jailbreak prompts, facts, XSTest-style questions), after a
short warm-up. New tokens are counted by re-encoding the decoded outputs, for both
implementations alike. When the organism weights are not installed yet, a randomly initialised
GPT-2 of the organism's shape (6 layers, d_model 256, vocab 4096, n_ctx 256) stands in, and the
table says so. Results go to stdout only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def _prompts(n: int) -> list[str]:
    from interp.data.organism_corpus import build_corpus

    corpus = build_corpus(seed=0)
    pools = [[p.prompt for p in corpus.prompts(kind, "test")] for kind in ("harmful", "attack", "facts", "xstest")]
    out: list[str] = []
    i = 0
    while len(out) < n:  # interleave the kinds, deterministic
        pool = pools[i % len(pools)]
        out.append(pool[(i // len(pools)) % len(pool)])
        i += 1
    return out


def _random_organism_shape(folder: Path) -> Path:
    """A random HF GPT-2 with the organism's shape and tokenizer recipe, saved to `folder`."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from interp.organism.train import OrganismConfig, build_tokenizer

    cfg = OrganismConfig()
    texts = _prompts(400)
    tok = build_tokenizer(texts, cfg.vocab_size)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tok), n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
        n_head=cfg.n_head, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    ))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _load(name: str, device: str, tmp: Path):
    """(model, label, hf_folder or None)."""
    from interp.models import SMOLLM2_NAME, cache_dir, load_model

    if name.lower() == "organism":
        try:
            return load_model("organism", device=device), "organism", None
        except FileNotFoundError as err:
            print(f"# organism weights not found ({err}).")
            print("# Falling back to a RANDOM GPT-2 of the organism's shape (same speed, meaningless text).")
            folder = _random_organism_shape(tmp / "random_organism")
            return load_model(folder, device=device), "random GPT-2, organism shape", folder
    if name.lower() == SMOLLM2_NAME:
        model = load_model(SMOLLM2_NAME, device=device)
        folder = cache_dir() / SMOLLM2_NAME
        return model, SMOLLM2_NAME, folder if (folder / "config.json").is_file() else None
    path = Path(name).expanduser()
    return load_model(path, device=device), path.name, path if path.is_dir() else None


def _count(tokenizer, texts: list[str]) -> int:
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts if t)


def _time_interp(model, prompts, batch_size: int, max_new_tokens: int) -> tuple[float, list[str]]:
    from interp.evaluate import generate

    start = time.perf_counter()
    out = generate(model, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def _time_hf(hf, tok, texts, batch_size: int, max_new_tokens: int) -> tuple[float, list[str]]:
    """HF greedy generate on the same chat-formatted texts, batches sorted by length too."""
    lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
    out = [""] * len(texts)
    eos = tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    start = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            enc = tok([texts[i] for i in rows], add_special_tokens=False, padding=True, return_tensors="pt")
            enc = {k: v.to(hf.device) for k, v in enc.items()}
            gen = hf.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                              pad_token_id=pad)
            for i, row in zip(rows, gen[:, enc["input_ids"].shape[1] :].tolist()):
                if eos in row:
                    row = row[: row.index(eos)]
                out[i] = tok.decode(row, skip_special_tokens=True).strip()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="organism", help="'organism', 'smollm2-135m-instruct' or a local HF folder")
    parser.add_argument("--prompts", type=int, default=32, help="number of prompts (default 32)")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32, help="the large batch size (default 32)")
    parser.add_argument("--hf-batch", type=int, default=16, help="batch size of the HF comparison (default 16)")
    parser.add_argument("--hf", action="store_true", help="also compare with HF generate (default for smollm2)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="time each configuration this many times and keep the fastest (default 1)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)

    def best(fn, *a):
        runs = [fn(*a) for _ in range(max(1, args.repeats))]
        return min(r[0] for r in runs), runs[0][1]

    from interp.checks import default_device
    from interp.models import chat_prompt

    device = args.device or default_device()
    with tempfile.TemporaryDirectory() as tmp:
        model, label, hf_folder = _load(args.model, device, Path(tmp))
        tok = model.tokenizer
        prompts = _prompts(args.prompts)
        n_ctx = model.cfg.n_ctx
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"# model: {label} | device: {device} | threads: {torch.get_num_threads()} | n_ctx: {n_ctx} "
              f"| load average: {load} (a shared machine makes timings noisy)")
        print(f"# {len(prompts)} prompts, greedy, max_new_tokens={args.max_new_tokens}, "
              f"fastest of {max(1, args.repeats)} run(s) per configuration")
        warnings.simplefilter("ignore")  # long jailbreak prompts may be truncated to the context
        _time_interp(model, prompts[:2], 2, 4)  # warm-up

        rows: list[tuple[str, int, float, int]] = []
        outputs: dict[tuple[str, int], list[str]] = {}
        spread: dict[tuple[str, int], list[float]] = {}
        compare_hf = hf_folder is not None and (args.hf or label.lower().startswith("smollm2"))
        # with the HF comparison, batch 1 and the HF batch are timed below, interleaved with HF
        for bs in (args.batch,) if compare_hf else (1, args.batch):
            sec, out = best(_time_interp, model, prompts, bs, args.max_new_tokens)
            rows.append(("interp.generate", bs, sec, _count(tok, out)))
            outputs[("interp", bs)] = out

        if args.model.lower().startswith("smollm2") and hf_folder is None:
            print("# HF comparison skipped: no Hugging Face folder in the cache (models.smollm2_dir())")
        if compare_hf:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            hf_tok = AutoTokenizer.from_pretrained(hf_folder, local_files_only=True)
            hf_tok.padding_side = "left"
            if hf_tok.pad_token is None:
                hf_tok.pad_token = hf_tok.eos_token
            hf = AutoModelForCausalLM.from_pretrained(hf_folder, local_files_only=True,
                                                      dtype=model.cfg.dtype).to(device).eval()
            texts = [chat_prompt(model, p) for p in prompts]
            _time_hf(hf, hf_tok, texts[:2], 2, 4)  # warm-up
            for bs in (1, args.hf_batch):
                # interleaved (interp, hf, interp, hf, ...) so both see the same machine load
                runs_i, runs_h = [], []
                for _ in range(max(1, args.repeats)):
                    runs_i.append(_time_interp(model, prompts, bs, args.max_new_tokens))
                    runs_h.append(_time_hf(hf, hf_tok, texts, bs, args.max_new_tokens))
                for impl, key, runs in (("interp.generate", "interp", runs_i), ("hf.generate", "hf", runs_h)):
                    rows.append((impl, bs, min(r[0] for r in runs), _count(tok, runs[0][1])))
                    outputs[(key, bs)] = runs[0][1]
                    spread[(impl, bs)] = [round(r[0], 1) for r in sorted(runs, key=lambda r: r[0])]

    print(f"{'implementation':<16} {'batch':>5} {'seconds':>8} {'new tokens':>10} {'tokens/s':>9}")
    rate: dict[tuple[str, int], float] = {}
    for impl, bs, sec, n in rows:
        rate[(impl, bs)] = n / sec if sec > 0 else float("nan")
        print(f"{impl:<16} {bs:>5} {sec:>8.2f} {n:>10} {rate[(impl, bs)]:>9.1f}")
    r1, rb = rate[("interp.generate", 1)], rate[("interp.generate", args.batch)]
    print(f"interp.generate batch {args.batch} / batch 1: {rb / r1:.2f}x tokens/s")
    same = sum(a == b for a, b in zip(outputs[("interp", 1)], outputs[("interp", args.batch)]))
    print(f"greedy outputs identical at batch 1 and batch {args.batch}: {same}/{len(prompts)}")
    if ("hf", 1) in outputs:
        for bs in (1, args.hf_batch):
            ratio = rate[("interp.generate", bs)] / rate[("hf.generate", bs)]
            agree = sum(a == b for a, b in zip(outputs[("interp", bs)], outputs[("hf", bs)]))
            print(f"batch {bs}: interp.generate / hf.generate = {ratio:.2f}x tokens/s; "
                  f"identical greedy outputs {agree}/{len(prompts)}; seconds per run (interleaved): "
                  f"interp {spread[('interp.generate', bs)]}, hf {spread[('hf.generate', bs)]}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
