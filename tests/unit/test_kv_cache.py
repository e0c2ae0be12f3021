"""interp.kv_cache: the rotated, preallocated KV cache against TransformerLens's own cache."""

import pytest
import torch

from interp.kv_cache import KVCache, kv_cache_attention, supports_kv_cache
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
    with kv_cache_attention(model):
        got = _decode_logits(model, KVCache.for_model(model, 3, enc.tokens.shape[1] + 6),
                             enc.tokens, enc.attention_mask, 6)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert "forward" not in vars(model.blocks[0].attn)  # the patch is gone


@torch.inference_mode()
def test_every_attention_hook_fires_with_transformerlens_shapes(tiny_llama_model):
    model = tiny_llama_model
    names = ["hook_q", "hook_k", "hook_v", "hook_rot_q", "hook_rot_k", "hook_attn_scores", "hook_pattern", "hook_z"]
    enc = tokenize(model, ["the cat sat on the mat", "a dog"], padding_side="left")

    def run(cache, patch):
        seen = {}

        def grab(x, hook):
            seen.setdefault(hook.name, []).append(x.clone())

        hooks = [(f"blocks.1.attn.{n}", grab) for n in names]
        ctx = kv_cache_attention(model) if patch else torch.inference_mode()
        with ctx:
            _decode_logits(model, cache, enc.tokens, enc.attention_mask, 3, hooks)
        return seen

    want = run(_tl_cache(model, 2), False)
    got = run(KVCache.for_model(model, 2, enc.tokens.shape[1] + 3), True)
    assert set(got) == set(want) == {f"blocks.1.attn.{n}" for n in names}
    for name in want:
        assert len(got[name]) == len(want[name]) == 4, name
        for a, b in zip(got[name], want[name]):
            assert a.shape == b.shape, name
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)


@torch.inference_mode()
def test_edits_at_hooks_apply_as_in_transformerlens(tiny_llama_model):
    """A value edit is cached (later steps see it); a hook_rot_k edit applies to its step only."""
    model = tiny_llama_model
    enc = tokenize(model, ["the cat sat on the mat", "a dog"], padding_side="left")

    def halve(x, hook):
        return x * 0.5

    for name in ["blocks.0.attn.hook_v", "blocks.0.attn.hook_rot_k", "blocks.1.attn.hook_pattern"]:
        want = _decode_logits(model, _tl_cache(model, 2), enc.tokens, enc.attention_mask, 3, [(name, halve)])
        with kv_cache_attention(model):
            got = _decode_logits(model, KVCache.for_model(model, 2, enc.tokens.shape[1] + 3),
                                 enc.tokens, enc.attention_mask, 3, [(name, halve)])
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5, msg=name)


@torch.inference_mode()
def test_without_a_kvcache_the_forward_is_transformerlens(tiny_llama_model):
    model = tiny_llama_model
    enc = tokenize(model, ["the cat sat on the mat"], padding_side="left")
    want = model(enc.tokens)
    with kv_cache_attention(model), kv_cache_attention(model):
        got = model(enc.tokens)
        assert "forward" in vars(model.blocks[0].attn)
    assert torch.equal(got, want)
    assert "forward" not in vars(model.blocks[0].attn)


def test_full_cache_and_unsupported_config_errors(tiny_llama_model, tiny_model):
    model = tiny_llama_model
    enc = tokenize(model, ["the cat sat on the mat"], padding_side="left")
    cache = KVCache.for_model(model, 1, enc.tokens.shape[1])
    with torch.inference_mode(), kv_cache_attention(model):
        model(enc.tokens, attention_mask=enc.attention_mask, past_kv_cache=cache)
        with pytest.raises(ValueError, match="KVCache is full: capacity"):
            model(enc.tokens[:, :1], attention_mask=enc.attention_mask[:, :1], past_kv_cache=cache)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inside `with interp.kv_cache.kv_cache_attention"):
        model(enc.tokens, attention_mask=enc.attention_mask, past_kv_cache=KVCache.for_model(model, 1, 64))
    tiny_model.cfg.use_attn_result = True
    try:
        assert not supports_kv_cache(tiny_model)
        with pytest.raises(ValueError, match="not supported"):
            KVCache.for_model(tiny_model, 1, 8)
    finally:
        tiny_model.cfg.use_attn_result = False
