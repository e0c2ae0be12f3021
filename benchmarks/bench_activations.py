"""Benchmark: does activation collection keep memory flat as the number of prompts grows?

Run ``python benchmarks/bench_activations.py`` (CPU, offline; ``--n`` and ``--factor`` to
change the sizes). It collects, for N and for factor x N prompts, the activations of every
layer's ``hook_resid_post`` and ``mlp.hook_post`` with

* ``MeanOverTexts`` (one running (d,) mean per hook: should stay flat, target growth <= 10 %);
* ``MeanOverPositions`` (one (d,) row per prompt per hook: grows linearly, for contrast);
* ``tokens`` (one row per token, what an SAE trains on; the middle layer's ``hook_resid_post``
  only) in memory, which grows with the tokens, and ``tokens_to_disk``: the same rows streamed
  to safetensors shards (``collect_activations(..., out=dir)``), which should stay flat
  (target <= 10 % more peak memory for 10x the prompts, as for ``mean_texts``).

The large run cycles the small run's prompts, so both see the same prompt lengths.
On a shared 2-core machine run it with ``OMP_NUM_THREADS=1`` (torch's two spinning OpenMP
threads are several times slower there when other processes compete for the cores).

Each measurement runs in a fresh subprocess (so allocator caches of one run do not flatter the
next) and first runs the widest batch once (warm-up). During ``collect_activations`` it records
the process's peak resident set size (sampled every 2 ms with psutil) and its growth over the
RSS just before the call, the peak of Python allocations (tracemalloc), on CUDA
``torch.cuda.max_memory_allocated``, and the exact size of the returned tensors. The target
(MeanOverTexts: <= 10 % more peak memory for 10x the prompts) is checked on the peak RSS. Uses the organism if its weights are installed, else an
organism-sized random GPT-2 (6 layers, d_model 256, d_mlp 1024) fed random token ids.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

REDUCERS = ("mean_texts", "mean", "tokens", "tokens_to_disk")
FLAT = ("mean_texts", "tokens_to_disk")  # the modes whose memory must not grow


def _random_gpt2_folder(folder: Path) -> Path:
    """A random organism-sized GPT-2 checkpoint with a minimal character tokenizer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    chars = list("abcdefghijklmnopqrstuvwxyz .,!?'")
    vocab = {tok: i for i, tok in enumerate(["<|pad|>", "<|end|>"] + chars)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|pad|>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|end|>", pad_token="<|pad|>")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_layer=6, n_embd=256, n_head=8, n_positions=256,
                               vocab_size=4096)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _inputs(n: int, base: int, seed: int):
    """(model, Tokenized, source) for n prompts: the same ``base`` prompts cycled.

    Cycling keeps the length distribution (and the longest batch, which sets the transient
    peak of a forward pass) identical between the small and the large run, so the comparison
    measures what grows with the number of prompts and nothing else.
    """
    import torch

    from interp.models import Tokenized, chat_prompt, load_model, organism_dir, tokenize

    if (organism_dir() / "model.safetensors").is_file():
        from interp.data import load_dataset

        model = load_model("organism", device="cpu")
        records = load_dataset("organism", split="train")
        prompts = [chat_prompt(model, records[(i % base) % len(records)].adversarial_prompt)
                   for i in range(n)]
        return model, tokenize(model, prompts), "organism"
    folder = _random_gpt2_folder(Path(tempfile.mkdtemp(prefix="bench-act-")))
    model = load_model(folder, device="cpu")
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(16, 97, (base,), generator=gen).repeat(-(-n // base))[:n]
    width = int(lengths.max())
    tokens = torch.randint(2, model.cfg.d_vocab, (n, width), generator=gen)
    mask = (torch.arange(width)[None, :] >= width - lengths[:, None]).long()  # left padding
    return model, Tokenized(tokens=tokens.masked_fill(mask == 0, 0), attention_mask=mask), "random GPT-2"


def child(reducer: str, n: int, base: int, batch_size: int, seed: int, shard_rows: int) -> dict:
    import torch

    from interp.activations import collect_activations
    from peak_rss import PeakRSS
    from interp.hooks import mlp_post, resid_post

    model, toks, source = _inputs(n, base, seed)
    hooks = [h for layer in range(model.cfg.n_layers) for h in (resid_post(layer), mlp_post(layer))]
    kind, disk = ("tokens", True) if reducer == "tokens_to_disk" else (reducer, False)
    if kind == "tokens":
        hooks = [resid_post(model.cfg.n_layers // 2)]
    scratch = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    # warm-up on the widest batch, so the heap already holds one forward pass's working set
    widest = toks.attention_mask.sum(dim=1).argsort(descending=True)[:batch_size]
    collect_activations(model, toks.tokens[widest], attention_mask=toks.attention_mask[widest],
                        hook_names=hooks, reducer=kind, batch_size=batch_size, progress=False,
                        out=scratch / "warm-up" if disk else None, shard_rows=shard_rows)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    cuda0 = torch.cuda.memory_allocated() if torch.cuda.is_available() else 0
    tracemalloc.start()
    with PeakRSS() as mem:
        start = time.perf_counter()
        out = collect_activations(model, toks, hook_names=hooks, reducer=kind, batch_size=batch_size,
                                  progress=False, out=scratch / "run" if disk else None, shard_rows=shard_rows)
        seconds = time.perf_counter() - start
    rss0, peak = mem.start, [mem.peak]
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cuda_peak = (torch.cuda.max_memory_allocated() - cuda0) if torch.cuda.is_available() else 0
    row = {"reducer": reducer, "n": n, "source": source, "tokens": int(toks.attention_mask.sum()),
            "seconds": seconds, "rss_peak": peak[0], "rss_peak_delta": peak[0] - rss0, "python_peak": py_peak,
            "cuda_peak": cuda_peak,
            "result_bytes": (sum(f.stat().st_size for f in (scratch / "run").rglob("*.safetensors")) if disk
                             else sum(t.numel() * 4 for t in out.values()))}
    shutil.rmtree(scratch)
    return row


def _run_child(reducer: str, n: int, base: int, batch_size: int, seed: int, shard_rows: int) -> dict:
    cmd = [sys.executable, __file__, "--child", reducer, "--n", str(n), "--base", str(base),
           "--batch-size", str(batch_size), "--seed", str(seed), "--shard-rows", str(shard_rows)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {reducer} n={n} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mb(x: float) -> str:
    return f"{x / 2**20:8.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="prompts in the small run (N)")
    parser.add_argument("--factor", type=int, default=10, help="the large run has factor x N prompts")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-rows", type=int, default=4096,
                        help="rows per shard for tokens_to_disk (both runs write several shards)")
    parser.add_argument("--child", choices=REDUCERS, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n, args.base or args.n, args.batch_size, args.seed,
                               args.shard_rows)))
        return

    sizes = (args.n, args.n * args.factor)
    rows = {(r, n): _run_child(r, n, args.n, args.batch_size, args.seed, args.shard_rows)
            for r in REDUCERS for n in sizes}
    first = rows[(REDUCERS[0], sizes[0])]
    print(f"model: {first['source']}; hooks: every layer's hook_resid_post + mlp.hook_post; "
          f"batch_size {args.batch_size}")
    print(f"{'reducer':<11} {'prompts':>7} {'tokens':>8} {'seconds':>8} {'peak RSS MB':>11} "
          f"{'growth MB':>9} {'py peak MB':>10} {'cuda MB':>8} {'result MB':>9}")
    for (reducer, n), r in rows.items():
        print(f"{reducer:<11} {n:>7} {r['tokens']:>8} {r['seconds']:>8.2f} {_mb(r['rss_peak']):>11} "
              f"{_mb(r['rss_peak_delta']):>9} {_mb(r['python_peak']):>10} {_mb(r['cuda_peak']):>8} "
              f"{_mb(r['result_bytes']):>9}")
    print("peak RSS: the whole process during collect_activations (model, tokens, working set, "
          "results); growth: above the RSS just before the call; result: on disk for tokens_to_disk")
    for reducer in REDUCERS:
        small, large = rows[(reducer, sizes[0])], rows[(reducer, sizes[1])]
        ratio = large["rss_peak"] / small["rss_peak"]
        extra = large["rss_peak_delta"] - small["rss_peak_delta"]
        verdict = ""
        if reducer in FLAT:
            verdict = "  (target <= 1.10: " + ("met" if ratio <= 1.10 else "NOT met") + ")"
        print(f"{reducer}: {args.factor}x prompts -> peak RSS x{ratio:.3f}, growth {extra / 2**20:+.1f} MB "
              f"(result {(large['result_bytes'] - small['result_bytes']) / 2**20:+.1f} MB){verdict}")

if __name__ == "__main__":
    main()
