"""Cached decoding: a key/value cache that keeps keys rotated and heads grouped, and forwards
that read every weight in place.

TransformerLens 3.9 caches keys *before* the rotary embedding and rotates the whole cache again
at every decoding step, expands grouped (GQA) keys and values to every query head with
``repeat_interleave``, and grows the cache with ``torch.cat`` -- all work proportional to the
cached length, in every layer, at every step. Its projections also copy their weights on every
forward pass (``einops.rearrange`` of ``W_Q/W_K/W_V/W_O``, ``W.T.contiguous()`` in the gated MLP
and the unembedding). For a 135M-parameter model on a CPU that is most of a decoding step's
time beyond the matrix products.

Inside :func:`cached_decoding`, the model's forwards change as follows (instance-level
``forward`` attributes, removed on exit):

* Attention given a :class:`KVCache` as ``past_kv_cache``: keys are rotated once, when they
  enter the cache (with the same ``apply_rotary`` call and position ids TransformerLens uses for
  the new positions, so the stored values are the ones it would compute again); keys and values
  live in preallocated ``[batch, kv_head, capacity, d_head]`` buffers (a step writes one slot; no
  ``torch.cat``); attention is computed per group of query heads sharing a key/value head (on
  views), never expanding the cache -- with ``F.scaled_dot_product_attention`` when no hook is
  registered on ``hook_attn_scores`` or ``hook_pattern``, else step by step so those hooks see
  and may edit TransformerLens's tensors. Q/K/V and the output projection are matrix products
  on the weights as stored (``W_Q`` as ``[head, d_model, d_head]``, ``W_O`` flattened to
  ``[(head d_head), d_model]``, a view): no weight is copied; when ``W_Q``/``W_K``/``W_V`` are
  stored in HF's ``[(head d_head), d_model]`` order each is one matrix product, as in HF. The
  rotary cos/sin rows of a forward are gathered once and shared by every layer whose tables
  are equal (TransformerLens gathers them in every layer); the rotation is its arithmetic.
* Biases that are all zeros (TransformerLens's placeholders for bias-free models such as
  Llama) are not added: the check is remembered per tensor and made again after any change to
  it, and never skips a bias a gradient is wanted for.
* Pre-norm blocks apply ``ln1`` once; TransformerLens applies it three times to the same input
  (once each for queries, keys and values), so ``ln1``'s hooks fire once per block here.
* Gated MLPs (Llama, Mistral, ...) multiply by ``W_in``, ``W_gate`` and ``W_out`` as stored.
* The unembedding reads ``W_U`` transposed (``[d_vocab, d_model]``, the order its matrix product
  is fastest in): the transposed copy is made once and reused while ``W_U`` is unchanged.

Products on weights "as stored" run at the speed of the stored memory order: inside
:func:`interp.layout.inference_layout` (as in :func:`interp.evaluate.generate`) that is the
``[out, in]`` order HF uses, about 20 % faster per decoding step at batch 16 on a CPU than
TransformerLens's ``[in, out]`` order, and nothing is copied per pass either way.

Every hook point still fires, with TransformerLens's shapes and meaning: ``hook_q``/``hook_k``/
``hook_v`` (new positions), ``hook_rot_q`` (new positions), ``hook_rot_k`` (all cached positions,
rotated, ``[batch, kv_pos, kv_head, d_head]``), ``hook_attn_scores`` and ``hook_pattern``
(``[batch, head, query_pos, kv_pos]``), ``hook_z``, the MLP's ``hook_pre``/``hook_pre_linear``/
``hook_post`` and the unembedding's ``hook_in``/``hook_out``. A hook that edits
``hook_k``/``hook_v`` changes what is cached (as in TransformerLens); an edit at ``hook_rot_k``
applies to the current step only (as in TransformerLens, which re-rotates the cache every step).
Outputs equal TransformerLens's up to float rounding of the matrix products (tested to 1e-5 on
logits and to identical greedy tokens).

Configurations this path does not cover (ALiBi or relative positions, ``use_attn_result``,
split QKV inputs, Q/K norms, soft caps, attention sinks, ...) keep TransformerLens's own
attention; :func:`supports_kv_cache` says which.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.modules import module as nn_module
from transformer_lens.components import GatedMLP, TransformerBlock, Unembed
from transformer_lens.utilities.architectures import POST_NORM_ARCHITECTURES
from transformer_lens.utilities.tensors import get_offset_position_ids

__all__ = ["KVCache", "cached_decoding", "new_kv_cache", "supports_kv_cache"]


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
                           "`with interp.kv_cache.cached_decoding(model):` (as interp.generate does)")

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
    """Preallocated key/value cache with rotated keys, for :func:`cached_decoding`.

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


def _project(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``x @ w + b`` per head, reading `w` as stored (no copy).

    x : [batch, pos, d_model]; w : [head, d_model, d_head]; b : [head, d_head] or None
    -> [batch, pos, head, d_head]

    When `w` is stored as ``[(head d_head), d_model]`` (HF's order, e.g. inside
    :func:`interp.layout.inference_layout`) this is one matrix product, as in HF; otherwise one
    batched product over heads.
    """
    batch, pos, d_model = x.shape
    n_heads, d_head = w.shape[0], w.shape[2]
    x = x.to(w.dtype)
    w_out_in = w.transpose(1, 2)  # [head, d_head, d_model]
    if w_out_in.is_contiguous():
        out = F.linear(x, w_out_in.reshape(n_heads * d_head, d_model), None if b is None else b.reshape(-1))
        return out.view(batch, pos, n_heads, d_head)
    x2 = x.reshape(1, batch * pos, d_model).expand(n_heads, -1, -1)
    out = torch.bmm(x2, w) if b is None else torch.baddbmm(b[:, None, :], x2, w)  # [head, batch*pos, d_head]
    return out.transpose(0, 1).reshape(batch, pos, n_heads, d_head)


class _Biases:
    """Which biases can be skipped: TransformerLens gives every Llama-style projection an
    all-zero bias, and adding it costs a pass over the output. A bias is skipped while it is
    all zeros (checked again after any in-place change or when it is another tensor) and no
    gradient is wanted for it."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[torch.Tensor, tuple[int, int] | None, bool]] = {}

    def __call__(self, b: torch.Tensor) -> torch.Tensor | None:
        if torch.is_grad_enabled() and b.requires_grad:
            return b
        state = _stamp(b)
        entry = self._seen.get(id(b))
        if state is None or entry is None or entry[0] is not b or entry[1] != state:
            # the entry holds `b`, so its id cannot be reused while the entry lives
            entry = (b, state, not bool(b.any()))
            self._seen[id(b)] = entry
        return None if entry[2] else b


class _RotaryTables:
    """The rotary cos/sin rows of one decoding step, gathered once and shared by every layer
    whose tables are equal (TransformerLens gathers them again in each layer). Rotations are
    TransformerLens's ``apply_rotary`` arithmetic, so the values are the same bit for bit."""

    def __init__(self) -> None:
        self._table_of: dict[int, tuple[Any, ...]] = {}  # id(cos) -> (cos, sin, versions, table number)
        self._tables: list[tuple[torch.Tensor, torch.Tensor]] = []  # distinct (cos, sin), copied
        self._step: dict[int, tuple[Any, ...]] = {}  # table number -> rows of the current step

    def _table_id(self, attn: Any) -> int:
        cos, sin = attn.rotary_cos, attn.rotary_sin
        versions = (_stamp(cos), _stamp(sin))
        entry = self._table_of.get(id(cos))  # entries hold the tensors, so ids stay unique
        if None in versions or entry is None or entry[0] is not cos or entry[1] is not sin or entry[2] != versions:
            same = [i for i, (c, s) in enumerate(self._tables)
                    if c.shape == cos.shape and torch.equal(c, cos) and torch.equal(s, sin)]
            if not same:  # a copy: an in-place change of a layer's tables cannot alter another's
                self._tables.append((cos.clone(), sin.clone()))
            entry = (cos, sin, versions, same[0] if same else len(self._tables) - 1)
            self._table_of[id(cos)] = entry
        return entry[3]

    def rotate(self, attn: Any, x: torch.Tensor, offset: int, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """``attn.apply_rotary(x, offset, attention_mask)``; x : [batch, pos, head, d_head]."""
        cfg = attn.cfg
        if (attention_mask is None or cfg.use_dynamic_ntk_rope or x.device != attn.rotary_cos.device
                or offset + x.shape[1] > attn.rotary_cos.shape[0]):
            return attn.apply_rotary(x, offset, attention_mask)
        table, key = self._table_id(attn), (offset, x.shape[1])
        step = self._step.get(table)
        if step is None or step[0] != key or step[1] is not attention_mask:
            positions = get_offset_position_ids(offset, attention_mask).to(attn.rotary_cos.device)
            step = self._step[table] = (key, attention_mask, attn.rotary_cos[positions, None, :],
                                        attn.rotary_sin[positions, None, :])
        cos, sin = step[2], step[3]  # [batch, pos, 1, rotary_dim]
        x_rot, x_pass = x[..., :cfg.rotary_dim], x[..., cfg.rotary_dim:]
        x_rotated = x_rot * cos + attn.rotate_every_two(x_rot) * sin
        return torch.cat([x_rotated, x_pass], dim=-1) if x_pass.shape[-1] else x_rotated


def _stamp(t: torch.Tensor) -> tuple[int, int] | None:
    """``(data_ptr, _version)``: changes when `t` gets other storage or is written in place;
    None for an inference tensor, whose changes cannot be tracked (it has no version counter)."""
    try:
        return t.data_ptr(), t._version
    except RuntimeError:
        return None


def _qkv(attn: Any, biases: _Biases, query_input: torch.Tensor, key_input: torch.Tensor,
         value_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``calculate_qkv_matrices`` without TransformerLens's per-pass weight copies."""
    if hasattr(attn, "_W_K") and not attn.cfg.ungroup_grouped_query_attention:  # grouped, un-repeated
        w_k, b_k, w_v, b_v = attn._W_K, attn._b_K, attn._W_V, attn._b_V
    else:
        w_k, b_k, w_v, b_v = attn.W_K, attn.b_K, attn.W_V, attn.b_V
    q = attn.hook_q(_project(query_input, attn.W_Q, biases(attn.b_Q)))
    k = attn.hook_k(_project(key_input, w_k, biases(b_k)))
    v = attn.hook_v(_project(value_input, w_v, biases(b_v)))
    return q, k, v


def _has_hooks(hook_point: Any) -> bool:
    """Whether calling `hook_point` could do anything but return its input."""
    return bool(hook_point._forward_hooks or hook_point._forward_pre_hooks or hook_point._backward_hooks
                or hook_point._backward_pre_hooks or nn_module._global_forward_hooks
                or nn_module._global_forward_pre_hooks or nn_module._global_backward_hooks
                or nn_module._global_backward_pre_hooks)


def _attention_forward(attn: Any, biases: _Biases, rotary: _RotaryTables, query_input: torch.Tensor,
                       key_input: torch.Tensor, value_input: torch.Tensor, past_kv_cache_entry: Any = None,
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
    q, k, v = _qkv(attn, biases, query_input, key_input, value_input)
    offset = entry.length
    if attn.cfg.positional_embedding_type == "rotary":
        # one apply_rotary call for queries and new keys (elementwise, so the same values)
        q, k = rotary.rotate(attn, torch.cat([q, k], dim=2), offset, attention_mask).split(
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
    # TransformerLens's own causal (and sliding-window) mask, then the padding mask
    allowed = attn._make_causal_mask(n_new, n_keys, offset, q.device)
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].to(q.device).bool()
    if _has_hooks(attn.hook_attn_scores) or _has_hooks(attn.hook_pattern):
        scores = (q_grouped @ keys.transpose(-1, -2)) / attn.attn_scale
        scores = scores.view(batch, n_heads, n_new, n_keys)
        scores = torch.where(allowed, scores, attn.IGNORE.to(scores.device))
        scores = attn.hook_attn_scores(scores)
        pattern = F.softmax(scores, dim=-1)
        pattern = torch.where(torch.isnan(pattern), torch.zeros_like(pattern), pattern)
        pattern = attn.hook_pattern(pattern).to(dtype=values.dtype)
        z = pattern.reshape(batch, n_kv, group * n_new, n_keys) @ values  # [batch, kv, group*new, d_head]
    else:  # nobody looks at the scores or the pattern: one fused kernel computes the same z
        rows = allowed.expand(allowed.shape[0], 1, n_new, n_keys)
        rows = rows[:, :, None].expand(-1, -1, group, -1, -1).reshape(allowed.shape[0], 1, group * n_new, n_keys)
        z = F.scaled_dot_product_attention(q_grouped, keys, values, attn_mask=rows,
                                           scale=1.0 / float(attn.attn_scale))
        z = torch.nan_to_num(z, nan=0.0)  # a query with no allowed key (left padding) gets z = 0, as in TL
    z = z.view(batch, n_kv, group, n_new, d_head).permute(0, 3, 1, 2, 4).reshape(batch, n_new, n_heads, d_head)
    z = attn.hook_z(z)
    w_o = attn.W_O.flatten(0, 1)  # [(head d_head), d_model], a view
    return _linear(z.reshape(batch, n_new, n_heads * d_head), w_o, biases(attn.b_O))


def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``x @ w (+ b)``; x : [batch, pos, d_in], w : [d_in, d_out] as stored -> [batch, pos, d_out]."""
    batch, pos, d_in = x.shape
    x2 = x.reshape(batch * pos, d_in).to(w.dtype)
    out = torch.mm(x2, w) if b is None else torch.addmm(b, x2, w)
    return out.view(batch, pos, -1)


def _gated_mlp_forward(mlp: Any, biases: _Biases, x: torch.Tensor) -> torch.Tensor:
    """``GatedMLP.forward`` with the weights read as stored; x : [batch, pos, d_model]."""
    x = x.to(mlp.W_in.dtype)
    pre_act = mlp.hook_pre(torch.matmul(x, mlp.W_gate))  # [batch, pos, d_mlp]
    act = mlp.act_fn(pre_act)  # while pre_act is still in cache (as HF); no hook sits between
    pre_linear = mlp.hook_pre_linear(torch.matmul(x, mlp.W_in))
    b_in = biases(mlp.b_in)
    gated = act * pre_linear
    post_act = mlp.hook_post(gated if b_in is None else gated + b_in)
    return _linear(post_act, mlp.W_out, biases(mlp.b_out))


def _unembed_forward(unembed: Any) -> Any:
    """``Unembed.forward`` reading a transposed copy of ``W_U``, made again only when ``W_U``
    changes (another tensor, or an in-place write) or gradients are wanted."""
    made: dict[str, Any] = {}

    def forward(residual: torch.Tensor) -> torch.Tensor:
        residual = unembed.hook_in(residual)
        w_u = unembed.W_U
        stamp = _stamp(w_u)
        if (torch.is_grad_enabled() and w_u.requires_grad) or stamp is None:
            w_t = w_u.T.contiguous()
        else:
            key = (stamp, w_u.dtype, w_u.device)
            if made.get("key") != key:
                made["key"], made["w_t"] = key, w_u.detach().T.contiguous()
            w_t = made["w_t"]
        return unembed.hook_out(F.linear(residual.to(w_t.dtype), w_t, unembed.b_U))

    return forward


def new_kv_cache(model: Any, batch_size: int, capacity: int) -> Any:
    """A :class:`KVCache` when :func:`supports_kv_cache`, else TransformerLens's own (empty) cache.

    Either is passed as ``past_kv_cache`` inside ``with cached_decoding(model):``.
    """
    if supports_kv_cache(model):
        return KVCache.for_model(model, batch_size, capacity)
    return _tl_cache_class().init_cache(model.cfg, model.cfg.device, batch_size)


def _plain_block(block: Any) -> bool:
    """A pre-norm block whose query, key and value inputs are all ``ln1(resid_pre)``."""
    cfg = block.cfg
    return (type(block) is TransformerBlock and not cfg.use_attn_in and not cfg.use_split_qkv_input
            and not cfg.use_hook_mlp_in and not cfg.attn_only and not cfg.parallel_attn_mlp
            and not cfg.use_normalization_before_and_after and cfg.n_devices == 1
            and cfg.positional_embedding_type != "shortformer"
            and cfg.original_architecture not in POST_NORM_ARCHITECTURES)


def _block_forward(block: Any, resid_pre: torch.Tensor, shortformer_pos_embed: Any = None,
                   past_kv_cache_entry: Any = None, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``TransformerBlock.forward`` for a :func:`_plain_block`, with ``ln1`` applied once: TL
    applies it three times to the same input (for queries, keys and values), so its hooks fire
    once here instead of three times, on the same values."""
    resid_pre = block.hook_resid_pre(resid_pre)  # [batch, pos, d_model]
    normed = block.ln1(resid_pre)
    attn_out = block.hook_attn_out(block.attn(query_input=normed, key_input=normed, value_input=normed,
                                              past_kv_cache_entry=past_kv_cache_entry,
                                              attention_mask=attention_mask))
    resid_mid = block.hook_resid_mid(resid_pre + attn_out)
    mlp_out = block.hook_mlp_out(block.mlp(block.ln2(resid_mid)))
    return block.hook_resid_post(resid_mid + mlp_out)


def _patchable_mlp(mlp: Any) -> bool:
    """A plain gated MLP (no SoLU-style layer norm, no 4-bit weights): :func:`_gated_mlp_forward` applies."""
    cfg = mlp.cfg
    return (type(mlp) is GatedMLP and not cfg.is_layer_norm_activation()
            and not getattr(cfg, "load_in_4bit", False))


@contextlib.contextmanager
def cached_decoding(model: Any) -> Iterator[Any]:
    """Within the block, forwards for decoding: attention layers given a :class:`KVCache` use
    it, and no forward copies a weight (see the module doc).

    Attention calls without a cache, or with TransformerLens's own cache, run TransformerLens's
    attention unchanged. Pre-norm blocks apply ``ln1`` once (its hooks fire once, not three
    times); gated MLPs and the unembedding read their weights as stored. Outputs equal
    TransformerLens's up to float rounding. The modules get instance-level ``forward``
    attributes for the block's duration; they are removed on exit (also on error). Re-entrant.
    Meant for inference (``torch.inference_mode``); gradients still flow if the block is used
    with them.

    Examples
    --------
    >>> with torch.inference_mode(), cached_decoding(model):  # doctest: +SKIP
    ...     cache = new_kv_cache(model, batch_size=2, capacity=64)
    ...     logits = model(tokens, attention_mask=mask, past_kv_cache=cache)
    """
    patched = []
    biases, rotary = _Biases(), _RotaryTables()

    def patch(module: Any, forward: Any) -> None:
        if "forward" not in vars(module):  # else an enclosing block already did
            module.forward = forward
            patched.append(module)

    if supports_kv_cache(model):
        for block in model.blocks:
            patch(block.attn, functools.partial(_attention_forward, block.attn, biases, rotary))
    for block in model.blocks:
        if _plain_block(block):
            patch(block, _block_forward.__get__(block))
        if _patchable_mlp(block.mlp):
            patch(block.mlp, functools.partial(_gated_mlp_forward, block.mlp, biases))
    if type(model.unembed) is Unembed:
        patch(model.unembed, _unembed_forward(model.unembed))
    try:
        yield model
    finally:
        for module in patched:
            del module.forward
