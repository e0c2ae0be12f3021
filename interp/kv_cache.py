"""A key/value cache that keeps keys rotated and heads grouped, in preallocated buffers.

TransformerLens 3.9 caches keys *before* the rotary embedding and rotates the whole cache again
at every decoding step, expands grouped (GQA) keys and values to every query head with
``repeat_interleave``, and grows the cache with ``torch.cat`` -- all work proportional to the
cached length, in every layer, at every step.

:class:`KVCache` keeps, per layer, a :class:`LayerCache`: keys (rotated once, when they enter
the cache) and values in preallocated ``[batch, kv_head, capacity, d_head]`` buffers (a step
writes one slot; no ``torch.cat``), grouped heads left grouped. Only the attention forward of
:func:`interp.decoding.cached_decoding` reads and writes it (TransformerLens's own attention
refuses it with a clear error). :func:`new_kv_cache` gives a :class:`KVCache` when
:func:`supports_kv_cache`, else TransformerLens's own cache, so callers need not choose.

Configurations this cache does not cover (ALiBi or relative positions, ``use_attn_result``,
split QKV inputs, Q/K norms, soft caps, attention sinks, ...) keep TransformerLens's own cache
and attention; :func:`supports_kv_cache` says which.

``cached_decoding`` lives in :mod:`interp.decoding` (it was ``interp.kv_cache.cached_decoding``
before the split; the decoding forwards import this module, so no alias is kept here).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["KVCache", "LayerCache", "new_kv_cache", "supports_kv_cache", "transformer_lens_cache_class"]


def transformer_lens_cache_class() -> type:
    """TransformerLens's key/value cache class (its name differs between 2.x and 3.x)."""
    try:  # TransformerLens >= 3
        from transformer_lens.cache.key_value_cache import TransformerLensKeyValueCache as Cache
    except ImportError:  # pragma: no cover - TransformerLens 2.x name
        from transformer_lens.past_key_value_caching import HookedTransformerKeyValueCache as Cache
    return Cache


def supports_kv_cache(model: Any) -> bool:
    """True when every attention layer of `model` can run on a :class:`KVCache`."""
    cfg = model.cfg
    plain = (
        cfg.positional_embedding_type in ("standard", "rotary")
        and not cfg.use_attn_result
        and not cfg.use_split_qkv_input
        and not cfg.use_attn_in
        and not getattr(cfg, "use_qk_norm", False)
        and getattr(cfg, "clip_qkv", None) is None
        and not getattr(cfg, "use_logn_attn", False)
        and not getattr(cfg, "use_attention_sinks", False)
        and not getattr(cfg, "use_dynamic_ntk_rope", False)
        and not getattr(cfg, "load_in_4bit", False)
        and getattr(cfg, "attn_scores_soft_cap", -1.0) in (None, -1.0, 0.0)
        and getattr(cfg, "attention_dir", "causal") == "causal"
        and cfg.original_architecture not in ("OlmoeForCausalLM", "Olmo2ForCausalLM", "Olmo3ForCausalLM")
    )
    if not plain:
        return False
    return all(getattr(b.attn, "_attention_dir_override", None) in (None, "causal") for b in model.blocks)


class LayerCache:
    """One layer's rotated keys and values, ``[batch, kv_head, capacity, d_head]`` each.

    Attributes
    ----------
    keys, values : Tensor of shape (batch, kv_head, capacity, d_head)
        Only the slots ``[:length]`` hold data.
    length : int
        Positions cached so far.
    frozen : bool
        While True, :meth:`write` does not advance `length` (TransformerLens's cache flag).
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        self.keys = keys
        self.values = values
        self.length = 0
        self.frozen = False

    @property
    def past_keys(self) -> torch.Tensor:
        """Cached keys, rotated, ``[batch, pos_so_far, kv_head, d_head]`` (a view)."""
        return self.keys[:, :, : self.length].transpose(1, 2)

    @property
    def past_values(self) -> torch.Tensor:
        """Cached values, ``[batch, pos_so_far, kv_head, d_head]`` (a view)."""
        return self.values[:, :, : self.length].transpose(1, 2)

    def append(self, new_keys: torch.Tensor, new_values: torch.Tensor) -> Any:
        """What TransformerLens's attention calls: refused, its keys are not rotated yet."""
        raise RuntimeError("a KVCache was passed to TransformerLens's own attention forward; use it inside "
                           "`with interp.decoding.cached_decoding(model):` (as interp.generate does)")

    def write(self, new_keys: torch.Tensor, new_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``[batch, new, kv_head, d_head]`` keys (rotated) and values; return views of
        everything cached, ``[batch, kv_head, pos, d_head]``."""
        start, end = self.length, self.length + new_keys.shape[1]
        if end > self.keys.shape[2]:
            raise ValueError(f"KVCache is full: capacity {self.keys.shape[2]} positions, asked for {end}")
        self.keys[:, :, start:end] = new_keys.transpose(1, 2)
        self.values[:, :, start:end] = new_values.transpose(1, 2)
        if not self.frozen:
            self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]


class KVCache(transformer_lens_cache_class()):  # type: ignore[misc]
    """Preallocated key/value cache with rotated keys, for :func:`interp.decoding.cached_decoding`.

    Pass it as ``past_kv_cache`` to the model's forward inside ``with cached_decoding(model):``
    (as :func:`interp.evaluate.generate` does). It also holds the running attention mask, like
    TransformerLens's cache, so ``model(tokens, attention_mask=..., past_kv_cache=cache)`` is
    called the same way.

    Examples
    --------
    >>> cache = KVCache.for_model(model, batch_size=4, capacity=128)  # doctest: +SKIP
    """

    @classmethod
    def for_model(cls, model: Any, batch_size: int, capacity: int) -> "KVCache":
        """An empty cache for `batch_size` sequences of up to `capacity` positions.

        Raises
        ------
        ValueError
            When the model's attention is not covered (see :func:`supports_kv_cache`).
        """
        if not supports_kv_cache(model):
            raise ValueError("KVCache: this model's attention configuration is not supported; "
                             "use TransformerLens's own cache (supports_kv_cache(model) is False)")
        cfg = model.cfg
        grouped = cfg.n_key_value_heads and not cfg.ungroup_grouped_query_attention
        n_kv = cfg.n_key_value_heads if grouped else cfg.n_heads
        entries = []
        for block in model.blocks:
            w = block.attn.W_Q
            shape = (batch_size, n_kv, int(capacity), cfg.d_head)
            # uninitialised: only the written slots [:length] are ever read
            entries.append(LayerCache(torch.empty(shape, dtype=w.dtype, device=w.device),
                                      torch.empty(shape, dtype=w.dtype, device=w.device)))
        mask = torch.empty((batch_size, 0), dtype=torch.int, device=model.cfg.device)
        return cls(entries=entries, previous_attention_mask=mask)


def new_kv_cache(model: Any, batch_size: int, capacity: int) -> Any:
    """A :class:`KVCache` when :func:`supports_kv_cache`, else TransformerLens's own (empty) cache.

    Either is passed as ``past_kv_cache`` inside ``with cached_decoding(model):``.
    """
    if supports_kv_cache(model):
        return KVCache.for_model(model, batch_size, capacity)
    return transformer_lens_cache_class().init_cache(model.cfg, model.cfg.device, batch_size)
