"""Top-k SAEs on a model's activations: sae-lens's own trainer, fed by the toolkit's activation stream.

:func:`train_topk_sae` collects every token's activation at one hook with
:func:`interp.activations.collect_activations` (reducer :class:`~interp.activations.TokenRows`,
the first token of each text dropped: it carries the "massive activations"), holds a share out,
and trains a ``TopKTrainingSAE`` with ``SAETrainer`` on shuffled batches of the rest. The result
is sae-lens's inference ``TopKSAE``, loaded back from its own on-disk format
(``cfg.json`` + ``sae_weights.safetensors``); :func:`load_sae` reads such a folder. The hook,
the model and the training figures travel in ``sae.cfg.metadata`` (sae-lens's own metadata
object, saved with the SAE): ``hook_name``, ``model_name``, ``explained_variance``, ``l0``,
``dead_share``, ``tokens_per_second``, ...
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import HookedTransformer

__all__ = ["SHIPPED_SAES", "collect_sae_activations", "load_sae", "sae_hook", "sae_stats", "train_topk_sae"]


def collect_sae_activations(
    model: HookedTransformer,
    hook: str,
    texts: Sequence[str] | Any,
    *,
    max_length: int | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> Float[Tensor, "n_tokens d"]:
    """Every token's activation at `hook` (first token of each text dropped), float32 on CPU.

    `texts` are used as they are (wrap chats with :func:`interp.chat_sequence` first), or are
    already token ids: a :class:`~interp.models.Tokenized` (or a LongTensor (n, pos) without padding).
    """
    from interp.activations import TokenRows, collect_activations
    from interp.models import Tokenized, tokenize

    if isinstance(texts, Tensor):
        texts = Tokenized(tokens=texts.long(), attention_mask=torch.ones_like(texts, dtype=torch.long))
    if isinstance(texts, Tokenized):
        toks = texts
    else:
        n_ctx = model.cfg.n_ctx
        toks = tokenize(model, list(texts), max_length=n_ctx if max_length is None else min(max_length, n_ctx))
    return collect_activations(model, toks, hook_names=[hook], reducer=TokenRows(),
                               keep_first_position=False, batch_size=batch_size,
                               progress=progress)[hook]


@torch.no_grad()
def sae_stats(sae: Any, acts: Float[Tensor, "n d"], *, batch_size: int = 4096) -> dict[str, float]:
    """Reconstruction figures of `sae` on activations `acts` of shape (n_tokens, d_in) (held-out tokens).

    Returns
    -------
    dict
        ``explained_variance`` (1 - sum ||x - x_hat||^2 / sum ||x - mean x||^2, in [.., 1]),
        ``mse`` (per element), ``l0`` (mean number of active features per token),
        ``dead_share`` (features that never fire on `acts`), ``n_tokens``.
    """
    if acts.dim() != 2 or acts.shape[1] != sae.cfg.d_in:
        raise ValueError(f"acts must have shape (n_tokens, {sae.cfg.d_in}) for this SAE, got {tuple(acts.shape)}")
    device = sae.W_dec.device
    mean = acts.double().mean(dim=0)
    sse = sst = l0 = 0.0
    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool)
    for start in range(0, len(acts), batch_size):
        x = acts[start: start + batch_size].to(device=device, dtype=sae.W_dec.dtype)
        f = sae.encode(x)
        x_hat = sae.decode(f)
        sse += float(((x - x_hat).double() ** 2).sum())
        sst += float(((x.double().cpu() - mean) ** 2).sum())
        l0 += float((f != 0).sum())
        fired |= (f != 0).any(dim=0).cpu()
    n = len(acts)
    return {"explained_variance": 1.0 - sse / sst, "mse": sse / (n * acts.shape[1]), "l0": l0 / n,
            "dead_share": float((~fired).float().mean()), "n_tokens": float(n)}


def sae_hook(sae: Any) -> str:
    """The hook an SAE was trained on (``sae.cfg.metadata.hook_name``); error when it has none."""
    hook = getattr(getattr(sae, "cfg", None), "metadata", None)
    hook = None if hook is None else hook.get("hook_name")
    if not hook:
        raise ValueError("the SAE names no hook (sae.cfg.metadata.hook_name); pass hook= explicitly")
    return str(hook)


def train_topk_sae(
    model: HookedTransformer,
    hook: str,
    texts: Sequence[str] | Any,
    *,
    k: int = 32,
    d_sae: int | None = None,
    n_tokens: int | None = None,
    epochs: float = 4.0,
    batch_size: int = 1024,
    lr: float = 4e-4,
    held_out: float = 0.05,
    max_length: int | None = 256,
    seed: int = 0,
    save_to: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Any:
    """Train a Top-k SAE on `model`'s activations at `hook` over `texts` with sae-lens.

    Parameters
    ----------
    model : HookedTransformer
    hook : str
        A TransformerLens hook with activations of width ``d_in`` (e.g. ``"blocks.3.hook_resid_post"``).
    texts : sequence of str, Tokenized, LongTensor (n, pos), or ActivationShards
        The token source, used as given (see :func:`interp.steering.sae_texts` for the shipped
        ones), or token ids. Every token but each text's first is one training row. Or
        activations already on disk (``collect_activations(..., reducer="tokens", out=dir,
        keep_first_position=False)``): read back one shard at a time, for sets larger than memory.
    k : int, default=32
        Active features per token (O'Brien et al. use 32).
    d_sae : int, optional
        Number of features; default ``8 * d_in`` (O'Brien et al.'s width).
    n_tokens : int, optional
        Use at most this many tokens (the first texts' tokens); default all.
    epochs : float, default=4.0
        Passes over the training tokens (sae-lens counts samples: ``epochs * n_train`` rows).
    batch_size, lr : int, float
        Rows per step and Adam's learning rate (constant, no warm-up, then a linear decay to
        lr / 10 over the last fifth of the steps).
    held_out : float, default=0.05
        Share of the tokens (a random subset) kept out of training for :func:`sae_stats`.
    max_length : int, optional, default=256
        Texts longer than this many tokens lose their first tokens (with a warning).
    seed : int, default=0
        Seeds the SAE's initialisation (global RNG forked and restored), the held-out split
        and the batch order: same seed, same SAE on CPU.
    save_to : path, optional
        Folder for sae-lens's inference format (``cfg.json``, ``sae_weights.safetensors``);
        default a temporary folder that is deleted.
    device : str or torch.device, optional
        Where the SAE trains; default the model's device.
    progress : bool, default=True
        The activation collection's bar (sae-lens shows its own training bar).

    Returns
    -------
    sae_lens.TopKSAE
        ``sae.encode(x)`` (..., d_in) -> (..., d_sae) with at most k non-zero entries per row;
        ``sae.cfg.metadata`` holds ``hook_name``, ``model_name``, ``seed``, ``n_train_tokens``,
        ``explained_variance``, ``mse``, ``l0``, ``dead_share`` (held-out tokens),
        ``collect_seconds``, ``train_seconds`` and ``tokens_per_second`` (training tokens seen
        / (collection + training seconds)).

    Examples
    --------
    >>> sae = train_topk_sae(model, "blocks.3.hook_resid_post", texts, k=32)  # doctest: +SKIP
    >>> sae.cfg.metadata.explained_variance  # doctest: +SKIP
    0.87
    """
    from sae_lens import SAE
    from sae_lens.config import SAETrainerConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.training.sae_trainer import SAETrainer

    from interp.activations import ActivationShards
    from interp.hooks import check_hook_names
    from interp.steering.sae_rows import TrainingRows

    check_hook_names(model, [hook])
    if not 0 < held_out < 1:
        raise ValueError(f"held_out must be in (0, 1), got {held_out!r}")
    for name, value in (("k", k), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if not epochs > 0:
        raise ValueError(f"epochs must be > 0, got {epochs!r}")
    device = str(device if device is not None else model.cfg.device)

    start = time.perf_counter()
    if isinstance(texts, ActivationShards):
        if n_tokens is not None:
            raise ValueError("n_tokens limits the tokens of texts; activation shards are used whole "
                             "(collect fewer texts to train on fewer)")
        rows = TrainingRows.from_shards(texts, hook, held_out=held_out, seed=seed)
        shape = texts.shape(hook)
    else:
        acts = collect_sae_activations(model, hook, texts, max_length=max_length, progress=progress)
        acts = acts if n_tokens is None else acts[:n_tokens]
        rows, shape = TrainingRows.from_tensor(acts, held_out=held_out, seed=seed), tuple(acts.shape[1:])
    collect_seconds = time.perf_counter() - start
    if len(shape) != 1:
        raise ValueError(f"hook {hook!r} gives activations of shape {shape} per token; "
                         "train_topk_sae needs a vector per token (a residual, MLP or attention output)")
    d_in = shape[0]
    d_sae = 8 * d_in if d_sae is None else d_sae
    if k > d_sae:
        raise ValueError(f"k={k} is larger than d_sae={d_sae}")
    if rows.n_train < batch_size:
        raise ValueError(f"only {rows.n_train} training tokens at hook {hook!r}, fewer than batch_size={batch_size}; "
                         "give more texts")
    n_train = rows.n_train

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        cfg = TopKTrainingSAEConfig(d_in=d_in, d_sae=d_sae, k=k, device=device,
                                    normalize_activations="expected_average_only_in")
        training_sae = TopKTrainingSAE(cfg)
    total = int(epochs * n_train) // batch_size * batch_size
    total = max(total, batch_size)
    trainer_cfg = SAETrainerConfig(total_training_samples=total, train_batch_size_samples=batch_size,
                                   lr=lr, lr_end=lr / 10, lr_decay_steps=total // batch_size // 5, device=device, n_batches_for_norm_estimate=min(100, max(1, n_train // batch_size)),
                                   dead_feature_window=max(1, n_train // batch_size),
                                   feature_sampling_window=max(1, n_train // batch_size))
    start = time.perf_counter()
    trainer = SAETrainer(trainer_cfg, training_sae, data_provider=rows.batches(batch_size))
    trainer.fit()
    train_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(save_to) if save_to is not None else Path(tmp)
        training_sae.cfg.metadata.hook_name = hook
        training_sae.cfg.metadata.model_name = str(model.cfg.model_name)
        training_sae.save_inference_model(folder)
        sae = SAE.load_from_disk(folder, device=device)
        stats = sae_stats(sae, rows.held_out_rows())
        meta = {**stats, "seed": seed, "n_train_tokens": n_train, "n_training_samples": trainer.n_training_samples,
                "collect_seconds": collect_seconds, "train_seconds": train_seconds,
                "tokens_per_second": trainer.n_training_samples / (collect_seconds + train_seconds)}
        for key, value in meta.items():
            setattr(sae.cfg.metadata, key, value)
        if save_to is not None:  # rewrite cfg.json with the figures
            sae.save_model(folder)
    return sae


#: SAEs that ship with the package: name -> folder (``scripts/steering_runs.py --train`` made them).
SHIPPED_SAES = {"organism": Path(__file__).parent / "weights" / "organism"}


def load_sae(path: str | Path, *, device: str | torch.device = "cpu") -> Any:
    """An SAE saved by :func:`train_topk_sae` (or any sae-lens folder) from `path`.

    ``load_sae("organism")`` loads the shipped organism SAE (``blocks.3.hook_resid_post``,
    k=32, d_sae=2048; its training figures are in ``sae.cfg.metadata``).
    """
    from sae_lens import SAE

    path = SHIPPED_SAES.get(str(path), Path(path))
    if not (path / "cfg.json").is_file():
        raise FileNotFoundError(f"{path} has no cfg.json: not an sae-lens SAE folder")
    return SAE.load_from_disk(path, device=str(device))
