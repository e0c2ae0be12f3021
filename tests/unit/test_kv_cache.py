"""interp.kv_cache + interp.decoding: the rotated, preallocated KV cache and the decoding forwards
against TransformerLens's own cache and forward (logits, and every hook's calls and values)."""

import contextlib

import pytest
import torch

from interp.decoding import cached_decoding
from interp.kv_cache import KVCache, supports_kv_cache
from interp.models import tokenize


def _tl_cache(model, batch):
    from transformer_lens.cache.key_value_cache import TransformerLensKeyValueCache

    return TransformerLensKeyValueCache.init_cache(model.cfg, model.cfg.device, batch)


def _decode_logits(model, cache, ids, mask, steps, hooks=()):
    """Prefill, then feed `steps` argmax tokens (the last sequence finishes after one step);
    logits of every forward, [steps + 1, batch, vocab]."""
    out = []
    with model.hooks(fwd_hooks=list(hooks)):
        logits = model(ids, attention_mask=mask, past_kv_cache=cache)[:, -1]
        out.append(logits)
        for step in range(steps):
            nxt = logits.argmax(-1)
            step_mask = torch.ones_like(nxt)
            step_mask[-1] = int(step == 0)  # a finished sequence rides along with mask 0
            logits = model(nxt[:, None], attention_mask=step_mask[:, None], past_kv_cache=cache)[:, -1]
            out.append(logits)
    return torch.stack(out)


@pytest.fixture(params=["tiny_model", "tiny_llama_model", "tiny_mistral_model"])
def any_model(request):
    return request.getfixturevalue(request.param)


@torch.inference_mode()
def test_logits_match_transformerlens_cache_with_left_padding(any_model):
    model = any_model
    assert supports_kv_cache(model)
    # the first prompt is longer than Mistral's sliding window (16)
    enc = tokenize(model, ["the cat sat on the mat today and then it went for a long walk", "a dog",
                           "hello there friend"], padding_side="left")
    assert enc.tokens.shape[1] > 16
    want = _decode_logits(model, _tl_cache(model, 3), enc.tokens, enc.attention_mask, 6)
    with cached_decoding(model):
        got = _decode_logits(model, KVCache.for_model(model, 3, enc.tokens.shape[1] + 6),
                             enc.tokens, enc.attention_mask, 6)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert "forward" not in vars(model.blocks[0].attn)  # the patch is gone


def _record(model, run, names):
    """Call `run()` with a hook recording every call at each of `names`: name -> list of values."""
    seen = {}

    def grab(x, hook):
        seen.setdefault(hook.name, []).append(x.detach().clone())

    with model.hooks(fwd_hooks=[(name, grab) for name in names]):
        run()
    return seen


def _assert_same_calls(got, want):
    """Each hook point was called as often, with the same shapes and values (1e-5)."""
    assert sorted(got) == sorted(want)
    for name in want:
        assert len(got[name]) == len(want[name]), \
            f"{name}: {len(got[name])} calls, TransformerLens makes {len(want[name])}"
        for a, b in zip(got[name], want[name]):
            assert a.shape == b.shape, name
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["all-at-once", "one-at-a-time"])
@torch.inference_mode()
def test_every_hook_point_sees_transformerlens_calls_and_values(any_model, one_at_a_time):
    """Prefill + 2 decoding steps with a recording hook on every point of ``model.hook_dict``:
    inside the decoding forwards (and the layout, as in generate) each point is called as often
    as in TransformerLens's forward with its own cache (e.g. ``ln1`` three times per block, for
    queries, keys and values), with the same values. One at a time too: a shortcut must step
    aside for a lone hook on the point it would change, not only when its neighbours are hooked."""
    from interp.layout import inference_layout

    model = any_model
    enc = tokenize(model, ["the cat sat on the mat", "a dog"], padding_side="left")

    def tl():
        _decode_logits(model, _tl_cache(model, 2), enc.tokens, enc.attention_mask, 2)

    def fast():
        with inference_layout(model), cached_decoding(model):
            _decode_logits(model, KVCache.for_model(model, 2, enc.tokens.shape[1] + 2),
                           enc.tokens, enc.attention_mask, 2)

    names = list(model.hook_dict)
    # one at a time: block 0's points and the model's own (the other blocks run the same code)
    groups = [[n] for n in names if not n.startswith("blocks.") or n.startswith("blocks.0.")] \
        if one_at_a_time else [names]
    want = _record(model, tl, names)  # TransformerLens's calls at a point do not depend on the others
    for group in groups:
        _assert_same_calls(_record(model, fast, group), {n: want[n] for n in group if n in want})
    counts = {k: len(v) for k, v in want.items()}
    assert counts["blocks.0.ln1.hook_normalized"] == 3 * counts["blocks.0.hook_resid_pre"] == 9


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_llama_model"])
@torch.inference_mode()
def test_a_global_module_hook_sees_transformerlens_calls(fixture, request):
    """A global forward hook (torch's ``register_module_forward_hook``) sees every module call:
    the same modules, as often, with the same outputs as in TransformerLens's forward."""
    model = request.getfixturevalue(fixture)
    names = {id(m): n for n, m in model.named_modules()}
    enc = tokenize(model, ["the cat sat on the mat", "a dog"], padding_side="left")

    def run(fast):
        seen = {}

        def grab(module, args, out):
            if id(module) in names and isinstance(out, torch.Tensor):
                seen.setdefault(names[id(module)], []).append(out.detach().clone())

        handle = torch.nn.modules.module.register_module_forward_hook(grab)
        try:
            with cached_decoding(model) if fast else contextlib.nullcontext():
                cache = KVCache.for_model(model, 2, enc.tokens.shape[1] + 2) if fast else _tl_cache(model, 2)
                _decode_logits(model, cache, enc.tokens, enc.attention_mask, 2)
        finally:
            handle.remove()
        return seen

    want = run(False)
    assert len(want["blocks.0.ln1"]) == 9  # three per block and forward
    _assert_same_calls(run(True), want)


@torch.inference_mode()
def test_edits_at_hooks_apply_as_in_transformerlens(tiny_llama_model):
    """A value edit is cached (later steps see it); a hook_rot_k edit applies to its step only."""
    model = tiny_llama_model
    enc = tokenize(model, ["the cat sat on the mat", "a dog"], padding_side="left")

    def halve(x, hook):
        return x * 0.5

    for name in ["blocks.0.attn.hook_v", "blocks.0.attn.hook_rot_k", "blocks.1.attn.hook_pattern",
                 "blocks.0.mlp.hook_post", "unembed.hook_in"]:
        want = _decode_logits(model, _tl_cache(model, 2), enc.tokens, enc.attention_mask, 3, [(name, halve)])
        with cached_decoding(model):
            got = _decode_logits(model, KVCache.for_model(model, 2, enc.tokens.shape[1] + 3),
                                 enc.tokens, enc.attention_mask, 3, [(name, halve)])
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5, msg=name)


@torch.inference_mode()
def test_without_a_kvcache_the_forwards_give_transformerlens_logits(tiny_llama_model):
    """No cache: TL's attention; the gated MLP and unembedding read weights as stored (same
    logits up to rounding). The patches nest and are removed on exit."""
    model = tiny_llama_model
    enc = tokenize(model, ["the cat sat on the mat"], padding_side="left")
    want = model(enc.tokens)
    modules = [model.blocks[0].attn, model.blocks[0].mlp, model.unembed]
    with cached_decoding(model), cached_decoding(model):
        got = model(enc.tokens)
        assert all("forward" in vars(m) for m in modules)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert not any("forward" in vars(m) for m in modules)


@torch.inference_mode()
def test_unembedding_follows_weight_changes_inside_the_block(tiny_llama_model):
    """The transposed W_U copy is made again after an in-place edit or a new tensor."""
    model = tiny_llama_model
    enc = tokenize(model, ["the cat sat on the mat"], padding_side="left")
    w_u = model.unembed.W_U.detach().clone()
    try:
        with cached_decoding(model):
            model(enc.tokens)
            model.unembed.W_U.mul_(2.0)
            doubled = model(enc.tokens)
            model.unembed.W_U.data = -w_u
            negated = model(enc.tokens)
        model.unembed.W_U.data = w_u.clone()
        plain = model(enc.tokens)
        model.unembed.W_U.mul_(2.0)
        torch.testing.assert_close(doubled, model(enc.tokens), atol=1e-5, rtol=1e-5)
        model.unembed.W_U.data = -w_u
        torch.testing.assert_close(negated, model(enc.tokens), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(plain, negated)
    finally:  # a normal tensor again (w_u was made in inference mode): later tests train this fixture
        with torch.inference_mode(False):
            model.unembed.W_U.data = w_u.clone()


def test_gradients_flow_through_the_forwards(tiny_llama_model):
    model = tiny_llama_model
    enc = tokenize(model, ["the cat sat on the mat"], padding_side="left")
    model.zero_grad()
    model(enc.tokens).logsumexp(-1).sum().backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    with cached_decoding(model):
        model(enc.tokens).logsumexp(-1).sum().backward()
    got = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    assert set(got) == set(want)
    for name in want:
        torch.testing.assert_close(got[name], want[name], atol=1e-4, rtol=1e-4, msg=name)


def test_full_cache_and_unsupported_config_errors(tiny_llama_model, tiny_model):
    model = tiny_llama_model
    enc = tokenize(model, ["the cat sat on the mat"], padding_side="left")
    cache = KVCache.for_model(model, 1, enc.tokens.shape[1])
    with torch.inference_mode(), cached_decoding(model):
        model(enc.tokens, attention_mask=enc.attention_mask, past_kv_cache=cache)
        with pytest.raises(ValueError, match="KVCache is full: capacity"):
            model(enc.tokens[:, :1], attention_mask=enc.attention_mask[:, :1], past_kv_cache=cache)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inside `with interp.decoding.cached_decoding"):
        model(enc.tokens, attention_mask=enc.attention_mask, past_kv_cache=KVCache.for_model(model, 1, 64))
    tiny_model.cfg.use_attn_result = True
    try:
        assert not supports_kv_cache(tiny_model)
        with pytest.raises(ValueError, match="not supported"):
            KVCache.for_model(tiny_model, 1, 8)
    finally:
        tiny_model.cfg.use_attn_result = False


@pytest.mark.parametrize("layout", [False, True], ids=["as-loaded", "inference_layout"])
@torch.inference_mode()
def test_nonzero_biases_and_bias_edits_inside_the_block(tiny_llama_model, layout):
    """TL's all-zero biases are skipped; real ones are added, in both weight orders, and a bias
    edited in place inside the block is followed."""
    import copy

    from interp.layout import inference_layout

    # as loaded: copied inside inference mode, so its parameters have no version counter (the
    # cached W_U copy cannot be kept then); inference_layout needs ordinary parameters
    with torch.inference_mode(not layout):
        model = copy.deepcopy(tiny_llama_model)
    gen = torch.Generator().manual_seed(0)
    names = [n for n, p in model.named_parameters() if n.split(".")[-1] in ("b_Q", "_b_K", "_b_V", "b_O", "b_in", "b_out")]
    assert len(names) == 6 * model.cfg.n_layers
    for name, p in model.named_parameters():
        if name in names and not name.startswith("blocks.1."):  # layer 1 keeps zero biases
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    enc = tokenize(model, ["the cat sat on the mat today", "a dog"], padding_side="left")
    want = _decode_logits(model, _tl_cache(model, 2), enc.tokens, enc.attention_mask, 3)
    with (inference_layout(model) if layout else torch.inference_mode()), cached_decoding(model):
        got = _decode_logits(model, KVCache.for_model(model, 2, enc.tokens.shape[1] + 3),
                             enc.tokens, enc.attention_mask, 3)
        model.blocks[1].mlp.b_out.add_(0.5)  # was zero, skipped so far
        edited = model(enc.tokens, attention_mask=enc.attention_mask)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(edited, model(enc.tokens, attention_mask=enc.attention_mask), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(edited[:, -1], want[0], atol=1e-3)


@torch.inference_mode()
def test_rotary_rows_are_gathered_once_per_step_for_layers_with_equal_tables(tiny_llama_model, monkeypatch):
    """Layers share one gather of cos/sin rows per forward; a layer with other tables gets its own."""
    import copy

    import interp.decoding as decoding

    with torch.inference_mode(False):
        model = copy.deepcopy(tiny_llama_model)
    assert model.cfg.n_layers >= 2
    enc = tokenize(model, ["the cat sat on the mat today", "a dog"], padding_side="left")
    gathers = []
    real = decoding.get_offset_position_ids
    monkeypatch.setattr(decoding, "get_offset_position_ids", lambda *a: gathers.append(1) or real(*a))

    def run():
        gathers.clear()
        with cached_decoding(model):
            got = _decode_logits(model, KVCache.for_model(model, 2, enc.tokens.shape[1] + 3),
                                 enc.tokens, enc.attention_mask, 3)
        return got, len(gathers)

    got, n = run()
    assert n == 4  # prefill + 3 steps, whatever the number of layers
    torch.testing.assert_close(got, _decode_logits(model, _tl_cache(model, 2), enc.tokens, enc.attention_mask, 3),
                               atol=1e-5, rtol=1e-5)
    attn = model.blocks[1].attn  # a layer with its own (here: other base) tables
    attn.rotary_sin, attn.rotary_cos = attn.calculate_sin_cos_rotary(model.cfg.rotary_dim, model.cfg.n_ctx, base=500,
                                                                      dtype=attn.rotary_cos.dtype)
    got, n = run()
    assert n == 8
    torch.testing.assert_close(got, _decode_logits(model, _tl_cache(model, 2), enc.tokens, enc.attention_mask, 3),
                               atol=1e-5, rtol=1e-5)
    attn.rotary_sin, attn.rotary_cos = (model.blocks[0].attn.rotary_sin.clone(),
                                        model.blocks[0].attn.rotary_cos.clone())  # equal tables again
    with cached_decoding(model):  # a table edited in place inside the block is followed
        before = model(enc.tokens, attention_mask=enc.attention_mask, past_kv_cache=KVCache.for_model(model, 2, 16))
        model.blocks[0].attn.rotary_sin.mul_(0.5)
        after = model(enc.tokens, attention_mask=enc.attention_mask, past_kv_cache=KVCache.for_model(model, 2, 16))
    torch.testing.assert_close(after, model(enc.tokens, attention_mask=enc.attention_mask,
                                            past_kv_cache=_tl_cache(model, 2)), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(before, after)
