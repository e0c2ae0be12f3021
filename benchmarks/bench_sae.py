"""SAE training end to end: the toolkit's ``train_topk_sae`` against sae-lens's own runner.

Usage::

    python benchmarks/bench_sae.py                       # the organism, blocks.3.hook_resid_post
    python benchmarks/bench_sae.py --model smollm2-135m-instruct --layer 15 --sequences 400 --threads 2

Both train the same Top-k SAE (k=32, d_sae=8 d_model, Adam lr 4e-4, batch 1024 tokens, the
same number of training tokens) on the same token ids: ``--sequences`` rows of 128 tokens cut
from the shipped SAE texts (:func:`interp.steering.sae_texts`), the first position of every
row skipped by both. The toolkit collects every activation with its activation stream, then
trains with sae-lens's ``SAETrainer``; sae-lens's ``LanguageModelSAETrainingRunner`` runs its
own ``ActivationsStore`` (mixing buffer) over an in-memory ``datasets.Dataset``, no wandb.
Reported: wall seconds end to end (model already loaded), training tokens per second, and
each SAE's explained variance on the same held-out tokens. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import torch  # noqa: E402


def token_rows(model, n_rows: int, width: int = 128) -> torch.Tensor:
    """(n_rows, width) token ids cut from the concatenated shipped SAE texts."""
    from interp.steering import sae_texts

    ids: list[int] = []
    for text in sae_texts(model):
        ids += model.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) >= n_rows * width:
            break
    if len(ids) < n_rows * width:
        raise ValueError(f"only {len(ids)} tokens in the SAE texts, {n_rows} rows of {width} asked")
    return torch.tensor(ids[: n_rows * width]).view(n_rows, width)


def run_sae_lens(model, hook: str, rows: torch.Tensor, *, k: int, d_sae: int, n_tokens: int, lr: float,
                 batch: int, seed: int):
    from datasets import Dataset
    from sae_lens import LanguageModelSAERunnerConfig, LanguageModelSAETrainingRunner, LoggingConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAEConfig

    dataset = Dataset.from_dict({"input_ids": rows.tolist()})
    with tempfile.TemporaryDirectory() as tmp:
        cfg = LanguageModelSAERunnerConfig(
            sae=TopKTrainingSAEConfig(d_in=model.cfg.d_model, d_sae=d_sae, k=k,
                                      normalize_activations="expected_average_only_in"),
            model_name=str(model.cfg.model_name), hook_name=hook, dataset_path="local", is_dataset_tokenized=True,
            streaming=False, context_size=rows.shape[1], prepend_bos=False, seqpos_slice=(1, None),
            training_tokens=n_tokens, train_batch_size_tokens=batch, store_batch_size_prompts=16,
            n_batches_in_buffer=32, lr=lr, device=str(model.cfg.device), seed=seed,
            logger=LoggingConfig(log_to_wandb=False), checkpoint_path=str(Path(tmp) / "ckpt"),
            output_path=str(Path(tmp) / "out"), n_batches_for_norm_estimate=20, verbose=False)
        return LanguageModelSAETrainingRunner(cfg, override_dataset=dataset, override_model=model).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="organism")
    parser.add_argument("--layer", type=int, default=3)
    parser.add_argument("--sequences", type=int, default=1000, help="rows of 128 tokens")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    import interp
    from interp.steering import collect_sae_activations, sae_stats, train_topk_sae

    model = interp.load_model(args.model)
    hook = f"blocks.{args.layer}.hook_resid_post"
    rows = token_rows(model, args.sequences + 50)
    train_rows, test_rows = rows[: args.sequences], rows[args.sequences:]
    k, d_sae, lr, batch = 32, 8 * model.cfg.d_model, 4e-4, 1024
    n_tokens = int(args.epochs * train_rows.shape[0] * (train_rows.shape[1] - 1)) // batch * batch
    print(f"# {args.model} {hook} | threads {torch.get_num_threads()} | {train_rows.shape[0]} x {train_rows.shape[1]} "
          f"tokens, {n_tokens} training tokens, k {k}, d_sae {d_sae} | load average {os.getloadavg()[0]:.1f}")
    held = collect_sae_activations(model, hook, test_rows, progress=False)

    start = time.perf_counter()
    ours = train_topk_sae(model, hook, train_rows, k=k, d_sae=d_sae, epochs=args.epochs, batch_size=batch, lr=lr,
                          held_out=0.01, progress=False)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    theirs = run_sae_lens(model, hook, train_rows, k=k, d_sae=d_sae, n_tokens=n_tokens, lr=lr, batch=batch, seed=0)
    theirs_s = time.perf_counter() - start

    print(f"\n{'':<26} {'wall s':>8} {'tokens/s':>9} {'explained var':>14} {'L0':>6}")
    for label, sae, secs, seen in (("interp.train_topk_sae", ours, ours_s, ours.cfg.metadata.n_training_samples),
                                   ("sae-lens runner", theirs, theirs_s, n_tokens)):
        stats = sae_stats(sae, held)
        print(f"{label:<26} {secs:>8.1f} {seen / secs:>9.0f} {stats['explained_variance']:>14.3f} {stats['l0']:>6.1f}")
    print(f"\nratio sae-lens / toolkit wall time: {theirs_s / ours_s:.2f}x "
          f"(toolkit: collect {ours.cfg.metadata.collect_seconds:.1f} s + train {ours.cfg.metadata.train_seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
