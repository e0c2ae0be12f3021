"""Batched text generation on a HookedTransformer, with a KV cache and hooks honoured.

``generate(model, prompts)`` wraps each prompt in the model's chat format, left-pads the batch,
and decodes greedily (or samples) until every sequence has produced the end-of-turn token or
its token budget. Implementation notes (TransformerLens 3.9):

* Left padding. We pass an explicit ``attention_mask`` to ``model(...)``. TransformerLens then
  computes position ids with ``get_offset_position_ids`` (``cumsum(mask) - 1``), so positions
  start at the first real token both for absolute position embeddings (GPT-2's ``W_pos``) and
  for rotary embeddings (Llama), and pad keys are masked out of attention.
* KV cache. :class:`interp.kv_cache.KVCache` (inside :func:`interp.decoding.cached_decoding`)
  stores keys already rotated, in preallocated buffers, with grouped heads left grouped, and the
  running attention mask; each step we feed only the new token with a ``[batch, 1]`` mask.
  Rotary positions come from the full mask (``cumsum(mask) - 1``), as in TransformerLens.
  Attention configurations it does not cover fall back to TransformerLens's own cache, which
  keeps keys unrotated and re-rotates them every step.
* Finished sequences keep riding along in the batch: they are fed the pad token with mask 0, so
  their position ids stop growing (no position beyond ``n_ctx`` is ever looked up) and their
  outputs are thrown away.
* Hooks. We call the model's ordinary ``forward``, so every hook added with ``model.hooks(...)``
  or ``add_hook`` applies, at every step, and sees the calls and values of TransformerLens's
  forward with its own cache (e.g. ``ln1``'s hooks three times per block; see
  :mod:`interp.decoding`). :func:`last_logits` runs the blocks with ``stop_at_layer``, then
  ``ln_final`` and ``unembed`` on the last position only (no ``[batch, pos, d_vocab]`` tensor in
  the prefill) -- while nothing hooks the model, ``ln_final`` or ``unembed``; else the whole
  forward, so those hooks see every position as in TransformerLens.
* Speed. The loop runs inside :func:`interp.layout.inference_layout` (projection weights in
  the ``[out, in]`` memory order, as HF keeps them) and :func:`interp.decoding.cached_decoding`
  (forwards that copy no weight, apply an unhooked ``ln1`` once per block, and use one fused
  attention kernel when nobody hooks the attention scores or pattern).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from interp.checks import check_texts, model_device
from interp.decoding import cached_decoding, has_hooks
from interp.kv_cache import new_kv_cache

__all__ = ["generate", "generate_tokens", "last_logits"]

log = logging.getLogger(__name__)


def _tail_modules(model: Any) -> tuple[Any, ...]:
    """The model and every module after its blocks (``ln_final``, ``unembed``, their hook points)."""
    ln_final = getattr(model, "ln_final", None)
    return (model, *model.unembed.modules(), *(ln_final.modules() if ln_final is not None else ()))


def last_logits(model: Any, tokens: torch.Tensor, mask: torch.Tensor, cache: Any, *,
                tail: tuple[Any, ...] | None = None) -> torch.Tensor:
    """One cached forward; the logits at the last position.

    Parameters
    ----------
    model : HookedTransformer
    tokens, mask : LongTensor of shape (batch, pos)
        The new tokens and their attention mask (left padding has mask 0).
    cache : KVCache or TransformerLens's cache
        Passed as ``past_kv_cache`` (a :class:`~interp.kv_cache.KVCache` only inside
        :func:`~interp.decoding.cached_decoding`); it advances by ``pos`` positions.
    tail : tuple of modules, optional
        The model, ``ln_final``, ``unembed`` and their hook points, for a loop to gather once;
        None gathers them here.

    Returns
    -------
    Tensor of shape (batch, d_vocab), float32

    Notes
    -----
    ``ln_final`` and the unembedding run on the last position only, unless a hook is attached to
    the model, to ``ln_final`` or to ``unembed`` (or a global module hook): then the model's whole
    forward runs, so those hooks see what TransformerLens's forward shows them.
    """
    if has_hooks(*(_tail_modules(model) if tail is None else tail)):
        return model(tokens, attention_mask=mask, past_kv_cache=cache)[:, -1, :].float()
    resid = model(tokens, attention_mask=mask, past_kv_cache=cache, stop_at_layer=model.cfg.n_layers)
    resid = resid[:, -1:, :]
    if model.cfg.normalization_type is not None:
        resid = model.ln_final(resid)
    logits = model.unembed(resid)[:, -1, :].float()
    cap = getattr(model.cfg, "output_logits_soft_cap", None)
    if cap is not None and cap > 0:
        logits = cap * torch.tanh(logits / cap)
    return logits


def generate_tokens(
    model: Any,
    tokens: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    budgets: Sequence[int],
    eos_token_id: int | None,
    pad_token_id: int,
    do_sample: bool = False,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """Core loop: continue a left-padded batch of token ids.

    Parameters
    ----------
    model : HookedTransformer
    tokens : LongTensor of shape (batch, pos)
        Left-padded prompt ids on the model's device.
    attention_mask : LongTensor of shape (batch, pos)
        1 for real tokens, 0 for padding (padding only on the left).
    budgets : sequence of int, length batch
        Maximum number of new tokens per sequence (each >= 0).
    eos_token_id : int or None
        Generation of a sequence stops after this token; it is not returned.
    pad_token_id : int
        Fed to finished sequences (with mask 0).
    do_sample, temperature, generator
        Sampling options; greedy (argmax) when ``do_sample`` is False.

    Returns
    -------
    list of list of int
        The new token ids per sequence, without the end-of-turn token.
    """
    batch = tokens.shape[0]
    device = tokens.device
    budget = torch.tensor(list(budgets), device=device)
    out: list[list[int]] = [[] for _ in range(batch)]
    finished = budget <= 0
    if bool(finished.all()):
        return out
    with cached_decoding(model):
        cache = new_kv_cache(model, batch, tokens.shape[1] + int(budget.max()))
        tail = _tail_modules(model)
        logits = last_logits(model, tokens, attention_mask, cache, tail=tail)
        n_done = torch.zeros(batch, dtype=torch.long, device=device)
        for _ in range(int(budget.max())):
            if do_sample:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            else:
                nxt = logits.argmax(dim=-1)
            active = ~finished
            hit_eos = (nxt == eos_token_id) if eos_token_id is not None else torch.zeros_like(active)
            keep = active & ~hit_eos
            for i in torch.nonzero(keep).flatten().tolist():
                out[i].append(int(nxt[i]))
            n_done = n_done + keep.long()
            finished = finished | hit_eos | (n_done >= budget)
            if bool(finished.all()):
                break
            step_tokens = torch.where(finished, torch.full_like(nxt, pad_token_id), nxt)[:, None]
            step_mask = (~finished).long()[:, None]
            logits = last_logits(model, step_tokens, step_mask, cache, tail=tail)
    return out


@torch.inference_mode()
def generate(
    model: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    do_sample: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
    chat: bool = True,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> list[str]:
    """Generate a response to each prompt, batched, greedy by default.

    Parameters
    ----------
    model : HookedTransformer
        With a tokenizer attached (``model.tokenizer``). Active hooks (``with model.hooks(...)``)
        apply to every forward pass and see the calls and values of TransformerLens's own
        forward (see :mod:`interp.decoding`). The model is left as it was (parameters, their
        memory layout, train/eval mode), also when generation raises.
    prompts : sequence of str, length n (n >= 1)
        User texts; wrapped with :func:`interp.chat_prompt` when `chat` is True, used as raw
        model input otherwise.
    max_new_tokens : int, default=64
        Per prompt. When ``prompt_len + max_new_tokens`` would exceed ``model.cfg.n_ctx`` the
        budget of that prompt is reduced (with a warning). Prompts longer than
        ``n_ctx - min(max_new_tokens, n_ctx // 2)`` are truncated from the left by
        :func:`interp.models.tokenize` (with a warning).
    batch_size : int, default=16
        Prompts are sorted by length and batched; the output keeps the input order.
    do_sample : bool, default=False
        Sample from ``softmax(logits / temperature)`` instead of taking the argmax.
    temperature : float, default=1.0
        Must be > 0 when sampling.
    seed : int, default=0
        Seeds a local ``torch.Generator`` used for sampling (global RNG untouched). Sampled
        output depends on `batch_size`; greedy output does not.
    chat : bool, default=True
    progress : bool, default=True
        Show a tqdm bar over prompts.
    device : str or torch.device, optional
        Must be the model's device (``model.cfg.device``) when given; None uses it.

    Returns
    -------
    list of str, length n
        The new text only: the end-of-turn token (``tokenizer.eos_token_id``) is stripped,
        special tokens are skipped, surrounding whitespace is removed.

    Examples
    --------
    >>> texts = generate(model, ["How do I bake bread?"], max_new_tokens=16, progress=False)  # doctest: +SKIP
    """
    from interp.layout import inference_layout
    from interp.models import chat_prompt, tokenize

    prompts = check_texts(prompts, what="prompts", allow_empty_list=False)
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if do_sample and not temperature > 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature}")
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        raise ValueError(
            "generate needs a model with a tokenizer (model.tokenizer is None); "
            "load it with interp.load_model(...)"
        )
    here = model_device(model, device)  # refuses a device other than the model's
    n_ctx = int(model.cfg.n_ctx)
    if max_new_tokens == 0:
        return [""] * len(prompts)

    texts = [chat_prompt(model, p) for p in prompts] if chat else prompts
    reserve = min(max_new_tokens, n_ctx // 2)
    enc = tokenize(model, texts, padding_side="left", max_length=n_ctx - reserve)
    ids, mask = enc.tokens, enc.attention_mask
    lengths = mask.sum(dim=1).tolist()
    empty = [i for i, n in enumerate(lengths) if n == 0]
    if empty:
        raise ValueError(f"prompt #{empty[0]} tokenizes to zero tokens; nothing to condition on")

    budgets = [min(max_new_tokens, n_ctx - n) for n in lengths]
    short = [i for i, b in enumerate(budgets) if b < max_new_tokens]
    if short:
        warnings.warn(
            f"{len(short)} prompt(s) (first: #{short[0]}, {lengths[short[0]]} tokens) leave less than "
            f"max_new_tokens={max_new_tokens} of the context (n_ctx={n_ctx}); their generation "
            f"budget is reduced to fit",
            stacklevel=2,
        )

    eos = tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    if pad is None:
        pad = 0
    generator = None
    if do_sample:
        generator = torch.Generator(device=here)
        generator.manual_seed(int(seed))

    order = sorted(range(len(prompts)), key=lambda i: (-lengths[i], i))
    results: list[str] = [""] * len(prompts)
    modes = [(m, m.training) for m in model.modules()]  # restored module by module
    model.eval()
    try:
        bar = tqdm(total=len(prompts), desc="generate", disable=not progress, leave=False)
        with inference_layout(model), cached_decoding(model), bar:
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                width = max(lengths[i] for i in rows)
                batch_ids = ids[rows, ids.shape[1] - width :].to(here)
                batch_mask = mask[rows, mask.shape[1] - width :].to(here)
                new = generate_tokens(
                    model,
                    batch_ids,
                    batch_mask,
                    budgets=[budgets[i] for i in rows],
                    eos_token_id=eos,
                    pad_token_id=pad,
                    do_sample=do_sample,
                    temperature=temperature,
                    generator=generator,
                )
                for i, seq in zip(rows, new):
                    results[i] = tok.decode(seq, skip_special_tokens=True).strip()
                bar.update(len(rows))
    finally:
        for module, training in modes:
            module.training = training
    return results
