"""Decoding forwards: read every weight in place, use a :class:`~interp.kv_cache.KVCache`, and
honour every hook exactly as TransformerLens's own forward does.

TransformerLens 3.9's projections copy their weights on every forward pass (``einops.rearrange``
of ``W_Q/W_K/W_V/W_O``, ``W.T.contiguous()`` in the gated MLP and the unembedding); for a
135M-parameter model on a CPU that is most of a decoding step's time beyond the matrix products.
Inside :func:`cached_decoding`, the model's forwards change as follows (instance-level
``forward`` attributes, removed on exit):

* Attention given a :class:`~interp.kv_cache.KVCache` as ``past_kv_cache``: new keys are rotated
  once, when they enter the cache (the same arithmetic and position ids TransformerLens uses, so
  the stored values are the ones it would compute again) and written into the preallocated
  buffers; attention is computed per group of query heads sharing a key/value head (on views),
  never expanding the cache -- with ``F.scaled_dot_product_attention`` when nothing hooks
  ``hook_attn_scores`` or ``hook_pattern``. Q/K/V and the output projection are matrix products
  on the weights as stored (one matrix product each when they are stored in HF's
  ``[(head d_head), d_model]`` order). The rotary cos/sin rows of a forward are gathered once and
  shared by every layer whose tables are equal (TransformerLens gathers them in every layer).
* Biases that are all zeros (TransformerLens's placeholders for bias-free models such as
  Llama) are not added: the check is remembered per tensor and made again after any change to
  it, and never skips a bias a gradient is wanted for.
* Pre-norm blocks apply ``ln1`` once for queries, keys and values (TransformerLens applies it
  three times to the same input) -- while nothing hooks ``ln1``.
* Gated MLPs (Llama, Mistral, ...) multiply by ``W_in``, ``W_gate`` and ``W_out`` as stored.
* The unembedding reads ``W_U`` transposed (``[d_vocab, d_model]``, the order its matrix product
  is fastest in): the transposed copy is made once and reused while ``W_U`` is unchanged.

Products on weights "as stored" run at the speed of the stored memory order: inside
:func:`interp.layout.inference_layout` (as in :func:`interp.evaluate.generate`) that is the
``[out, in]`` order HF uses, about 20 % faster per decoding step at batch 16 on a CPU than
TransformerLens's ``[in, out]`` order, and nothing is copied per pass either way.

Hooks. Every hook point is called as often as in TransformerLens's forward (with its own
cache), with the same shapes and values (tested on every point of ``model.hook_dict``, all at
once and one at a time, to 1e-5), so hooks that edit apply as in TransformerLens. Where a
shortcut would change a point's calls, it steps aside while a hook could see it -- a forward or
backward (pre-)hook on the point or on a module holding it, or any global module hook, checked
at each call with a few dictionary lookups (:func:`has_hooks`):

* a block whose ``ln1`` (the module, ``hook_scale``, ``hook_normalized``) is hooked runs
  TransformerLens's own block forward: ``ln1`` runs three times, for the queries, the keys and
  the values in that order;
* the fused attention kernel, which never forms the scores or the pattern, runs only while
  neither ``hook_attn_scores`` nor ``hook_pattern`` is hooked (else step by step, on
  TransformerLens's tensors).

``hook_k``/``hook_v`` see the new positions (an edit is cached, as in TransformerLens),
``hook_rot_k`` every cached position, rotated, ``[batch, kv_pos, kv_head, d_head]`` (an edit
applies to the current step only, as in TransformerLens, which re-rotates the cache every step).
Outputs equal TransformerLens's up to float rounding of the matrix products (tested to 1e-5 on
logits and to identical greedy tokens). Attention calls without a cache, or with
TransformerLens's own, run TransformerLens's attention.
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

from interp.kv_cache import LayerCache, supports_kv_cache

__all__ = ["cached_decoding", "has_hooks"]


def has_hooks(*modules: Any) -> bool:
    """Whether calling any of `modules` could do more than run its forward: a forward or
    backward hook or pre-hook on it, or any global module hook.

    Examples
    --------
    >>> has_hooks(torch.nn.Identity())
    False
    """
    if (nn_module._global_forward_hooks or nn_module._global_forward_pre_hooks
            or nn_module._global_backward_hooks or nn_module._global_backward_pre_hooks):
        return True
    for m in modules:
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks:
            return True
    return False


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


def _attention_forward(attn: Any, biases: _Biases, rotary: _RotaryTables, query_input: torch.Tensor,
                       key_input: torch.Tensor, value_input: torch.Tensor, past_kv_cache_entry: Any = None,
                       additive_attention_mask: torch.Tensor | None = None,
                       attention_mask: torch.Tensor | None = None,
                       position_bias: torch.Tensor | None = None) -> torch.Tensor:
    """Attention on a :class:`~interp.kv_cache.LayerCache`; shapes as ``AbstractAttention.forward``."""
    entry = past_kv_cache_entry
    if not isinstance(entry, LayerCache) or additive_attention_mask is not None or position_bias is not None:
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
    if has_hooks(attn.hook_attn_scores, attn.hook_pattern):
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


def _plain_block(block: Any) -> bool:
    """A pre-norm block whose query, key and value inputs are all ``ln1(resid_pre)``."""
    cfg = block.cfg
    return (type(block) is TransformerBlock and not cfg.use_attn_in and not cfg.use_split_qkv_input
            and not cfg.use_hook_mlp_in and not cfg.attn_only and not cfg.parallel_attn_mlp
            and not cfg.use_normalization_before_and_after and cfg.n_devices == 1
            and cfg.positional_embedding_type != "shortformer"
            and cfg.original_architecture not in POST_NORM_ARCHITECTURES)


def _block_forward(block: Any, ln1_modules: tuple[Any, ...], resid_pre: torch.Tensor,
                   shortformer_pos_embed: Any = None, past_kv_cache_entry: Any = None,
                   attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``TransformerBlock.forward`` for a :func:`_plain_block`, with ``ln1`` applied once instead
    of three times (queries, keys, values: the same input) -- unless a hook could see the
    difference: with `ln1_modules` (``ln1`` and its hook points) hooked, TransformerLens's own."""
    ln1 = block.ln1
    if ln1 is not ln1_modules[0] or has_hooks(*ln1_modules):
        return TransformerBlock.forward(block, resid_pre, shortformer_pos_embed=shortformer_pos_embed,
                                        past_kv_cache_entry=past_kv_cache_entry, attention_mask=attention_mask)
    resid_pre = block.hook_resid_pre(resid_pre)  # [batch, pos, d_model]
    normed = ln1(resid_pre)
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
    """Within the block, forwards for decoding: attention layers given a
    :class:`~interp.kv_cache.KVCache` use it, no forward copies a weight, and every hook sees
    TransformerLens's calls (see the module doc).

    Attention calls without a cache, or with TransformerLens's own cache, run TransformerLens's
    attention unchanged. Pre-norm blocks apply ``ln1`` once while it is not hooked; gated MLPs
    and the unembedding read their weights as stored. Outputs equal TransformerLens's up to
    float rounding. The modules get instance-level ``forward`` attributes for the block's
    duration; they are removed on exit (also on error). Re-entrant. Meant for inference
    (``torch.inference_mode``); gradients still flow if the block is used with them.

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
            patch(block, functools.partial(_block_forward, block, tuple(block.ln1.modules())))
        if _patchable_mlp(block.mlp):
            patch(block.mlp, functools.partial(_gated_mlp_forward, block.mlp, biases))
    if type(model.unembed) is Unembed:
        patch(model.unembed, _unembed_forward(model.unembed))
    try:
        yield model
    finally:
        for module in patched:
            del module.forward
