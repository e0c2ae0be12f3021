"""A key/value cache for generation that keeps keys rotated and heads grouped.

TransformerLens 3.9 caches keys *before* the rotary embedding and rotates the whole cache again
at every decoding step, expands grouped (GQA) keys and values to every query head with
``repeat_interleave``, and grows the cache with ``torch.cat`` -- all work proportional to the
cached length, in every layer, at every step. For a 135M-parameter model on a CPU that is most
of a decoding step's time beyond the matrix products.

:func:`kv_cache_attention` makes the model's attention layers use a :class:`KVCache` when one
is passed as ``past_kv_cache``:

* keys are rotated once, when they enter the cache (with the same ``apply_rotary`` call and
  position ids TransformerLens uses for the new positions, so the stored values are the ones it
  would compute again);
* keys and values live in preallocated ``[batch, kv_head, capacity, d_head]`` buffers (a step
  writes one slot; no ``torch.cat``);
* attention scores and values are computed per group of query heads sharing a key/value head
  (a batched matmul on views), never expanding the cache.

Every hook point of the attention layer still fires, with TransformerLens's shapes and meaning:
``hook_q``/``hook_k``/``hook_v`` (new positions), ``hook_rot_q`` (new positions),
``hook_rot_k`` (all cached positions, rotated, ``[batch, kv_pos, kv_head, d_head]``),
``hook_attn_scores`` and ``hook_pattern`` (``[batch, head, query_pos, kv_pos]``) and ``hook_z``.
A hook that edits ``hook_k``/``hook_v`` changes what is cached (as in TransformerLens); an edit
at ``hook_rot_k`` applies to the current step only (as in TransformerLens, which re-rotates the
cache every step). Outputs equal TransformerLens's up to float rounding of the matrix products
(tested to 1e-5 on logits and to identical greedy tokens).

Configurations this path does not cover (ALiBi or relative positions, ``use_attn_result``,
split QKV inputs, Q/K norms, soft caps, attention sinks, ...) keep TransformerLens's own forward;
:func:`supports_kv_cache` says which.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import einops
import torch
import torch.nn.functional as F

__all__ = ["KVCache", "kv_cache_attention", "new_kv_cache", "supports_kv_cache"]


def _tl_cache_class() -> type:
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


class _LayerCache:
    """One layer's rotated keys and values, ``[batch, kv_head, capacity, d_head]`` each."""

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
                           "`with interp.kv_cache.kv_cache_attention(model):` (as interp.generate does)")

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


class KVCache(_tl_cache_class()):  # type: ignore[misc]
    """Preallocated key/value cache with rotated keys, for :func:`kv_cache_attention`.

    Pass it as ``past_kv_cache`` to the model's forward inside ``with kv_cache_attention(model):``
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
        n_kv = cfg.n_key_value_heads if (cfg.n_key_value_heads and not cfg.ungroup_grouped_query_attention) else cfg.n_heads
        entries = []
        for block in model.blocks:
            w = block.attn.W_Q
            shape = (batch_size, n_kv, int(capacity), cfg.d_head)
            # uninitialised: only the written slots [:length] are ever read
            entries.append(_LayerCache(torch.empty(shape, dtype=w.dtype, device=w.device),
                                       torch.empty(shape, dtype=w.dtype, device=w.device)))
        mask = torch.empty((batch_size, 0), dtype=torch.int, device=model.cfg.device)
        return cls(entries=entries, previous_attention_mask=mask)


def _attention_forward(attn: Any, query_input: torch.Tensor, key_input: torch.Tensor,
                       value_input: torch.Tensor, past_kv_cache_entry: Any = None,
                       additive_attention_mask: torch.Tensor | None = None,
                       attention_mask: torch.Tensor | None = None,
                       position_bias: torch.Tensor | None = None) -> torch.Tensor:
    """Attention on a :class:`_LayerCache`; shapes as ``AbstractAttention.forward``."""
    entry = past_kv_cache_entry
    if not isinstance(entry, _LayerCache) or additive_attention_mask is not None or position_bias is not None:
        return type(attn).forward(attn, query_input, key_input, value_input,
                                  past_kv_cache_entry=past_kv_cache_entry,
                                  additive_attention_mask=additive_attention_mask,
                                  attention_mask=attention_mask, position_bias=position_bias)
    q, k, v = attn.calculate_qkv_matrices(query_input, key_input, value_input)
    offset = entry.length
    if attn.cfg.positional_embedding_type == "rotary":
        # one apply_rotary call for queries and new keys (elementwise, so the same values)
        q, k = attn.apply_rotary(torch.cat([q, k], dim=2), offset, attention_mask).split(
            [q.shape[2], k.shape[2]], dim=2)
        q = attn.hook_rot_q(q)
    keys, values = entry.write(k, v)  # [batch, kv_head, kv_pos, d_head]
    if attn.cfg.positional_embedding_type == "rotary":
        keys = attn.hook_rot_k(keys.transpose(1, 2)).transpose(1, 2)
    batch, n_new, n_heads, d_head = q.shape
    n_kv, n_keys = keys.shape[1], keys.shape[2]
    group = n_heads // n_kv
    # query heads h = g * group + r share key/value head g (repeat_interleave order)
    q_grouped = q.reshape(batch, n_new, n_kv, group, d_head).permute(0, 2, 3, 1, 4)
    q_grouped = q_grouped.reshape(batch, n_kv, group * n_new, d_head)
    scores = (q_grouped @ keys.transpose(-1, -2)) / attn.attn_scale
    scores = scores.view(batch, n_heads, n_new, n_keys)
    # TransformerLens's own causal (and sliding-window) mask, then the padding mask
    allowed = attn._make_causal_mask(n_new, n_keys, offset, scores.device)
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].to(scores.device).bool()
    scores = torch.where(allowed, scores, attn.IGNORE.to(scores.device))
    scores = attn.hook_attn_scores(scores)
    pattern = F.softmax(scores, dim=-1)
    pattern = torch.where(torch.isnan(pattern), torch.zeros_like(pattern), pattern)
    pattern = attn.hook_pattern(pattern).to(dtype=values.dtype)
    z = pattern.reshape(batch, n_kv, group * n_new, n_keys) @ values  # [batch, kv, group*new, d_head]
    z = z.view(batch, n_kv, group, n_new, d_head).permute(0, 3, 1, 2, 4).reshape(batch, n_new, n_heads, d_head)
    z = attn.hook_z(z)
    w = einops.rearrange(attn.W_O, "head_index d_head d_model -> d_model (head_index d_head)").contiguous()
    return F.linear(z.reshape(batch, n_new, n_heads * d_head).to(w.dtype), w, attn.b_O)


def new_kv_cache(model: Any, batch_size: int, capacity: int) -> Any:
    """A :class:`KVCache` when :func:`supports_kv_cache`, else TransformerLens's own (empty) cache.

    Either is passed as ``past_kv_cache`` inside ``with kv_cache_attention(model):``.
    """
    if supports_kv_cache(model):
        return KVCache.for_model(model, batch_size, capacity)
    return _tl_cache_class().init_cache(model.cfg, model.cfg.device, batch_size)


@contextlib.contextmanager
def kv_cache_attention(model: Any) -> Iterator[Any]:
    """Within the block, attention layers given a :class:`KVCache` use it (see module doc).

    Calls without a cache, or with TransformerLens's own cache, run TransformerLens's forward
    unchanged. The model's attention modules get an instance-level ``forward`` for the block's
    duration; it is removed on exit (also on error). Re-entrant.
    """
    if not supports_kv_cache(model):
        yield model
        return
    patched = []
    for block in model.blocks:
        attn = block.attn
        if "forward" in vars(attn):  # already inside an enclosing block
            continue
        attn.forward = _attention_forward.__get__(attn)
        patched.append(attn)
    try:
        yield model
    finally:
        for attn in patched:
            del attn.forward
