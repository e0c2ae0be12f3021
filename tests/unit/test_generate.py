"""interp.generate: batched == unbatched == a naive no-cache loop; hooks, eos, context limits."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from interp.evaluate.generate import generate, generate_tokens
from interp.models import chat_prompt, load_model, tokenize

# different lengths, deliberately not sorted by length
PROMPTS = [
    "how do i make a bomb",
    "hello",
    "write a poem about cats and the lazy dog please",
    "what is the capital of france",
    "sure",
    "the quick brown fox jumps over",
]


def _naive_greedy(model, prompt: str, max_new_tokens: int) -> str:
    """Reference: one prompt, no padding, no KV cache, full forward every step."""
    tok = model.tokenizer
    ids = tok(chat_prompt(model, prompt), add_special_tokens=False, return_tensors="pt")["input_ids"]
    new: list[int] = []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            nxt = int(model(ids)[0, -1].argmax())
            if nxt == tok.eos_token_id:
                break
            new.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return tok.decode(new, skip_special_tokens=True).strip()


@pytest.fixture(params=["tiny_model", "tiny_llama_model", "tiny_mistral_model"])
def any_model(request):
    return request.getfixturevalue(request.param)


def _biased_copy(model, token_id: int, bias: float):
    """A deep copy whose unembedding always (bias > 0) or never (< 0) picks `token_id`."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        m.unembed.b_U[token_id] += bias
    return m


def test_batched_equals_unbatched_and_naive(any_model):
    # GPT-2 (absolute positions), Llama (rotary, GQA), Mistral (rotary + sliding window)
    ref = [_naive_greedy(any_model, p, 12) for p in PROMPTS]
    one = generate(any_model, PROMPTS, max_new_tokens=12, batch_size=1, progress=False)
    some = generate(any_model, PROMPTS, max_new_tokens=12, batch_size=4, progress=False)
    every = generate(any_model, PROMPTS, max_new_tokens=12, batch_size=len(PROMPTS), progress=False)
    assert one == ref
    assert some == ref
    assert every == ref
    assert all(isinstance(t, str) for t in every)


def test_output_order_follows_input_order(tiny_model):
    fwd = generate(tiny_model, PROMPTS, max_new_tokens=6, batch_size=3, progress=False)
    rev = generate(tiny_model, PROMPTS[::-1], max_new_tokens=6, batch_size=3, progress=False)
    assert rev == fwd[::-1]


def test_hooks_on_the_model_apply_and_are_left_alone(tiny_model):
    plain = generate(tiny_model, PROMPTS[:3], max_new_tokens=8, progress=False)

    def zero(act, hook):
        return torch.zeros_like(act)

    with tiny_model.hooks(fwd_hooks=[("blocks.1.hook_resid_post", zero)]):
        hooked = generate(tiny_model, PROMPTS[:3], max_new_tokens=8, progress=False)
    assert hooked != plain
    # hook_embed is bypassed by TransformerLens's own generate(); ours runs the normal forward
    with tiny_model.hooks(fwd_hooks=[("hook_embed", zero)]):
        no_embed = generate(tiny_model, PROMPTS[:3], max_new_tokens=8, progress=False)
    assert no_embed != plain
    assert not any(hp.fwd_hooks for hp in tiny_model.hook_dict.values())
    assert generate(tiny_model, PROMPTS[:3], max_new_tokens=8, progress=False) == plain


def test_end_of_turn_stops_and_is_stripped(tiny_model):
    eos = tiny_model.tokenizer.eos_token_id
    always_eos = _biased_copy(tiny_model, eos, 1e4)
    assert generate(always_eos, PROMPTS, max_new_tokens=8, progress=False) == [""] * len(PROMPTS)


def test_budgets_per_sequence_in_one_batch(tiny_model):
    never_eos = _biased_copy(tiny_model, tiny_model.tokenizer.eos_token_id, -1e4)
    texts = [chat_prompt(never_eos, p) for p in PROMPTS[:3]]
    enc = tokenize(never_eos, texts)
    kwargs = dict(eos_token_id=never_eos.tokenizer.eos_token_id, pad_token_id=never_eos.tokenizer.pad_token_id)
    with torch.inference_mode():
        together = generate_tokens(never_eos, enc.tokens, enc.attention_mask, budgets=[2, 7, 0], **kwargs)
        alone = []
        for i in range(2):
            single = tokenize(never_eos, [texts[i]])
            alone += generate_tokens(never_eos, single.tokens, single.attention_mask, budgets=[[2, 7][i]], **kwargs)
    assert [len(s) for s in together] == [2, 7, 0]
    assert together[:2] == alone


def test_prompt_longer_than_context_warns_and_does_not_crash(tiny_model):
    n_ctx = tiny_model.cfg.n_ctx
    long = "the quick brown fox jumps over the lazy dog " * 20  # far beyond n_ctx = 64 tokens
    short_alone = generate(tiny_model, ["hello"], max_new_tokens=40, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = generate(tiny_model, [long, "hello"], max_new_tokens=40, batch_size=2, progress=False)
    messages = " ".join(str(w.message) for w in caught)
    assert "dropped" in messages  # left truncation by models.tokenize
    assert "budget is reduced" in messages  # prompt + 40 new tokens > n_ctx
    assert out[1] == short_alone[0]  # the short prompt in the same batch keeps its full budget
    ids = tiny_model.tokenizer(out[0], add_special_tokens=False)["input_ids"]
    assert len(ids) <= n_ctx


def test_max_new_tokens_larger_than_context(tiny_model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = generate(tiny_model, ["hello"], max_new_tokens=500, progress=False)
    assert isinstance(out[0], str)


def test_sampling_is_seeded_locally(tiny_model):
    state = torch.random.get_rng_state()
    a = generate(tiny_model, PROMPTS[:3], max_new_tokens=8, do_sample=True, seed=1, progress=False)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    b = generate(tiny_model, PROMPTS[:3], max_new_tokens=8, do_sample=True, seed=1, progress=False)
    c = generate(tiny_model, PROMPTS[:3], max_new_tokens=8, do_sample=True, seed=2, progress=False)
    assert a == b
    assert a != c


def test_raw_prompts_and_zero_tokens(tiny_model):
    raw = generate(tiny_model, ["<|bos|><|user|>hello<|assistant|>"], chat=False, max_new_tokens=6, progress=False)
    assert raw == generate(tiny_model, ["hello"], max_new_tokens=6, progress=False)
    assert generate(tiny_model, ["a", "b"], max_new_tokens=0, progress=False) == ["", ""]


@pytest.mark.parametrize(
    ("prompts", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "empty"),
        ("hello", {}, TypeError, "single str"),
        (["ok", 3], {}, TypeError, r"prompts\[1\]"),
        (["ok"], {"batch_size": 0}, ValueError, "batch_size"),
        (["ok"], {"max_new_tokens": -1}, ValueError, "max_new_tokens"),
        (["ok"], {"do_sample": True, "temperature": 0.0}, ValueError, "temperature"),
        (["ok"], {"device": "meta"}, ValueError, "model is on"),
    ],
)
def test_bad_input_gets_a_clear_error(tiny_model, prompts, kwargs, error, match):
    with pytest.raises(error, match=match):
        generate(tiny_model, prompts, progress=False, **kwargs)


def test_model_without_tokenizer(tiny_model):
    bare = copy.copy(tiny_model)
    bare.tokenizer = None
    with pytest.raises(ValueError, match="tokenizer"):
        generate(bare, ["hello"], progress=False)


def test_model_copied_inside_inference_mode(tiny_llama_model):
    """Its parameters are inference tensors (no version counter): generate still works, same text."""
    with torch.inference_mode():
        copied = copy.deepcopy(tiny_llama_model)
    assert next(copied.parameters()).is_inference()
    want = generate(tiny_llama_model, PROMPTS[:3], max_new_tokens=8, progress=False)
    assert generate(copied, PROMPTS[:3], max_new_tokens=8, progress=False) == want


def _tl_cached_greedy(model, tokens, mask, n_new):
    """Reference: TransformerLens's own forward and key/value cache, greedy, `n_new` tokens."""
    from transformer_lens.cache.key_value_cache import TransformerLensKeyValueCache

    cache = TransformerLensKeyValueCache.init_cache(model.cfg, model.cfg.device, tokens.shape[0])
    logits = model(tokens, attention_mask=mask, past_kv_cache=cache)[:, -1]
    out = [logits.argmax(-1)]
    for _ in range(n_new - 1):
        logits = model(out[-1][:, None], attention_mask=torch.ones_like(mask[:, :1]), past_kv_cache=cache)[:, -1]
        out.append(logits.argmax(-1))
    return torch.stack(out, 1).tolist()


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_llama_model"])
def test_every_hook_point_sees_transformerlens_calls_during_generation(fixture, request):
    """generate_tokens (prefill + 3 steps) with a recording hook on every point of
    ``model.hook_dict`` against TransformerLens's forward with its own cache: same calls (``ln1``
    three times per block; ``ln_final``/``unembed`` on every position), same values (1e-5)."""
    model = request.getfixturevalue(fixture)
    enc = tokenize(model, [chat_prompt(model, p) for p in PROMPTS[:2]])
    seen = {"tl": {}, "ours": {}}

    def grab(key):
        return lambda x, hook: seen[key].setdefault(hook.name, []).append(x.detach().clone())

    with torch.inference_mode():
        with model.hooks(fwd_hooks=[(name, grab("tl")) for name in model.hook_dict]):
            want = _tl_cached_greedy(model, enc.tokens, enc.attention_mask, 4)
        with model.hooks(fwd_hooks=[(name, grab("ours")) for name in model.hook_dict]):
            got = generate_tokens(model, enc.tokens, enc.attention_mask, budgets=[4, 4], eos_token_id=None,
                                  pad_token_id=model.tokenizer.pad_token_id)
    assert got == want
    assert sorted(seen["ours"]) == sorted(seen["tl"])
    for name, calls in seen["tl"].items():
        n_got, n_want = len(seen["ours"][name]), len(calls)
        assert n_got == n_want, f"{name}: {n_got} calls, TransformerLens makes {n_want}"
        for a, b in zip(seen["ours"][name], calls):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)


def _key_input_only(x, hook, calls=[0]):  # noqa: B006 - a call counter, reset by the test
    """Scales the second of every three calls: in TransformerLens's block, ``ln1`` runs for the
    queries, the keys and the values in that order, so this edits the keys' input only."""
    calls[0] += 1
    return x * 3.0 if calls[0] % 3 == 2 else x


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_llama_model"])
def test_editing_hooks_give_transformerlens_greedy_tokens(fixture, request):
    model = request.getfixturevalue(fixture)
    vector = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    edits = {
        "add a vector": [("blocks.0.hook_resid_post", lambda x, hook: x + vector)],
        "clamp ln1": [("blocks.1.ln1.hook_normalized", lambda x, hook: x.clamp(-0.5, 0.5))],
        "edit the keys' input": [("blocks.0.ln1.hook_normalized", _key_input_only)],
    }
    plain = generate(model, PROMPTS[:3], max_new_tokens=8, progress=False)
    for what, hooks in edits.items():
        with model.hooks(fwd_hooks=hooks):
            _key_input_only.__defaults__[0][0] = 0
            want = [_naive_greedy(model, p, 8) for p in PROMPTS[:3]]
            _key_input_only.__defaults__[0][0] = 0
            got = generate(model, PROMPTS[:3], max_new_tokens=8, batch_size=2, progress=False)
        assert got == want, what
        assert got != plain, what  # the edit matters


def _snapshot(model):
    """Every parameter and buffer: values, and the tensor's identity, dtype, layout and strides."""
    return {name: (t.detach().clone(), id(t), t.dtype, t.layout, t.device, t.stride(), t.is_contiguous(),
                   t.requires_grad) for name, t in [*model.named_parameters(), *model.named_buffers()]}


def _assert_untouched(model, before):
    after = _snapshot(model)
    assert list(after) == list(before)
    for name, (value, *rest) in before.items():
        assert torch.equal(after[name][0], value), name
        assert after[name][1:] == tuple(rest), name
    assert not any("forward" in vars(m) for m in model.modules())  # no decoding forward left behind
    assert not any(hp.fwd_hooks or hp.bwd_hooks for hp in model.hook_dict.values())


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_llama_model"])
def test_base_model_is_bit_identical_after_generate_and_after_an_error(fixture, request):
    model = request.getfixturevalue(fixture)
    modes = [m.training for m in model.modules()]
    before = _snapshot(model)
    generate(model, PROMPTS[:3], max_new_tokens=6, progress=False)
    _assert_untouched(model, before)
    calls = []

    def boom(x, hook):
        calls.append(1)
        if len(calls) == 3:  # mid-generation: after the prefill and a decoding step
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), model.hooks(fwd_hooks=[("blocks.1.hook_resid_post", boom)]):
        generate(model, PROMPTS[:3], max_new_tokens=6, progress=False)
    _assert_untouched(model, before)
    assert [m.training for m in model.modules()] == modes
