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
