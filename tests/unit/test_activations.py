"""interp.activations: streaming reducers against a naive full run_with_cache, masks, errors."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from interp.activations import (
    AllPositions,
    LastToken,
    MeanOverPositions,
    MeanOverTexts,
    MeanOverTokens,
    PositionSelect,
    Reducer,
    RunningSum,
    collect_activations,
    collect_from_texts,
    tokenize_chat,
)
from interp.hooks import resid_post
from interp.models import chat_prompt, tokenize

from model_state import assert_unchanged, snapshot  # tests/model_state.py

TEXTS = [
    "how do i make a bomb",
    "sorry i can not help with that request it is dangerous and illegal",
    "hello",
    "the quick brown fox jumps over the lazy dog",
    "paris is the capital of france",
]
ATOL = 1e-6


def _naive(model, text: str, hook: str) -> torch.Tensor:
    """(pos, d) activations of one text alone (no padding), with a full-model cache."""
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    _, cache = model.run_with_cache(torch.tensor([ids]))
    return cache[hook][0].float()


@pytest.fixture(scope="module")
def hooks(tiny_model):
    return [resid_post(0), resid_post(1), "blocks.0.mlp.hook_post"]


@pytest.fixture(scope="module")
def naive(tiny_model, hooks):
    return {h: [_naive(tiny_model, t, h) for t in TEXTS] for h in hooks + ["ln_final.hook_normalized"]}


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_reducers_match_a_full_cache_of_the_same_batch(tiny_model, hooks, padding_side):
    """Same padded batch, full run_with_cache, reduced by hand over the real positions."""
    toks = tokenize(tiny_model, TEXTS, padding_side=padding_side)
    _, cache = tiny_model.run_with_cache(toks.tokens, attention_mask=toks.attention_mask)
    real = toks.attention_mask.bool()
    for reducer, pool in [("mean", lambda a: a.mean(0)), ("last", lambda a: a[-1]),
                          (MeanOverTexts(), None), (MeanOverTokens(), None)]:
        out = collect_activations(tiny_model, toks, hook_names=hooks, reducer=reducer,
                                  batch_size=len(TEXTS), sort_by_length=False, progress=False)
        assert list(out) == hooks
        for h in hooks:
            rows = [cache[h][i][real[i]] for i in range(len(TEXTS))]
            if isinstance(reducer, MeanOverTexts):
                expected = torch.stack([r.mean(0) for r in rows]).mean(0)
            elif isinstance(reducer, MeanOverTokens):
                expected = torch.cat(rows).mean(0)
            else:
                expected = torch.stack([pool(r) for r in rows])
            assert out[h].dtype == torch.float32 and out[h].device.type == "cpu"
            torch.testing.assert_close(out[h], expected, atol=ATOL, rtol=ATOL)


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_per_text_reducers_match_each_text_alone(tiny_model, hooks, naive, padding_side):
    """Batched with padding (and sorted, trimmed) = each text run alone without padding."""
    toks = tokenize(tiny_model, TEXTS, padding_side=padding_side)
    for reducer, pool in [("mean", lambda a: a.mean(0)), ("last", lambda a: a[-1])]:
        out = collect_activations(tiny_model, toks, hook_names=hooks, reducer=reducer,
                                  batch_size=2, progress=False)
        for h in hooks:
            expected = torch.stack([pool(a) for a in naive[h]])
            torch.testing.assert_close(out[h], expected, atol=1e-5, rtol=1e-5)


def test_left_and_right_padding_agree_and_padding_ids_do_not_matter(tiny_model, hooks):
    left = tokenize(tiny_model, TEXTS, padding_side="left")
    right = tokenize(tiny_model, TEXTS, padding_side="right")
    a = collect_activations(tiny_model, left, hook_names=hooks, progress=False)
    b = collect_activations(tiny_model, right, hook_names=hooks, progress=False)
    junk = left.tokens.masked_fill(left.attention_mask == 0, 7)  # other ids under the padding
    c = collect_activations(tiny_model, junk, attention_mask=left.attention_mask, hook_names=hooks,
                            progress=False)
    for h in hooks:
        torch.testing.assert_close(a[h], b[h], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a[h], c[h], atol=ATOL, rtol=ATOL)


def test_llama_left_and_right_padding_agree(tiny_llama_model):
    h = [resid_post(1)]
    a = collect_from_texts(tiny_llama_model, TEXTS, hook_names=h, padding_side="left", progress=False)
    b = collect_from_texts(tiny_llama_model, TEXTS, hook_names=h, padding_side="right", progress=False)
    naive = torch.stack([_naive(tiny_llama_model, t, h[0]).mean(0) for t in TEXTS])
    torch.testing.assert_close(a[h[0]], b[h[0]], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[h[0]], naive, atol=1e-5, rtol=1e-5)


def test_flat_reducers_match_naive_and_do_not_grow(tiny_model, hooks, naive):
    toks = tokenize(tiny_model, TEXTS)
    h = hooks[1]
    sums = {"sum": RunningSum(), "tok": MeanOverTokens(), "txt": MeanOverTexts()}
    for name, red in sums.items():
        out = collect_activations(tiny_model, toks, hook_names=[h], reducer={h: red},
                                  batch_size=2, progress=False)[h]
        all_tokens = torch.cat(naive[h]).double()
        expected = {"sum": all_tokens.sum(0), "tok": all_tokens.mean(0),
                    "txt": torch.stack([a.double().mean(0) for a in naive[h]]).mean(0)}[name]
        assert out.shape == (tiny_model.cfg.d_model,)
        # batched and unbatched forwards differ by ~1e-6 per token; a sum adds up those errors
        atol = 1e-6 * len(all_tokens) if name == "sum" else 1e-5
        torch.testing.assert_close(out.double(), expected, atol=atol, rtol=1e-6)
    assert sums["sum"].count == sum(len(a) for a in naive[h])
    assert sums["txt"].count == len(TEXTS)
    # structural flatness: the state kept does not depend on the number of texts
    many = tokenize(tiny_model, TEXTS * 8)
    red = MeanOverTexts()
    out_many = collect_activations(tiny_model, many, hook_names=[h], reducer={h: red}, progress=False)[h]
    assert out_many.shape == out.shape and red._sum.shape == (tiny_model.cfg.d_model,)
    torch.testing.assert_close(out_many, out, atol=1e-5, rtol=1e-5)


def test_keep_first_position_false_and_position_select(tiny_model, naive):
    h = resid_post(1)
    toks = tokenize(tiny_model, TEXTS, padding_side="right")
    out = collect_activations(tiny_model, toks, hook_names=[h], keep_first_position=False,
                              progress=False)[h]
    multi = [i for i, a in enumerate(naive[h]) if len(a) > 1]
    expected = torch.stack([naive[h][i][1:].mean(0) for i in multi])
    torch.testing.assert_close(out[multi], expected, atol=ATOL, rtol=ATOL)

    positions = torch.zeros_like(toks.attention_mask, dtype=torch.bool)
    positions[:, :2] = True  # the first two tokens of each (right-padded) text
    positions[:, -1] = True  # padding for short texts: never used
    out = collect_activations(tiny_model, toks, hook_names=[h], reducer=PositionSelect(positions),
                              progress=False)[h]
    expected = torch.stack([torch.cat([a[:2], a[-1:]]).mean(0) if len(a) == toks.tokens.shape[1]
                            else a[:2].mean(0) for a in naive[h]])
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=ATOL)


def test_position_mask_and_all_positions(tiny_model, naive):
    h = resid_post(0)
    toks = tokenize(tiny_model, TEXTS, padding_side="right")
    full = collect_activations(tiny_model, toks, hook_names=[h], reducer="all", progress=False)[h]
    assert full.shape == (*toks.tokens.shape, tiny_model.cfg.d_model)
    for i, a in enumerate(naive[h]):
        torch.testing.assert_close(full[i, :len(a)], a, atol=ATOL, rtol=ATOL)
        assert torch.all(full[i, len(a):] == 0)
    only_first = torch.zeros_like(toks.attention_mask, dtype=torch.bool)
    only_first[:, 0] = True
    out = collect_activations(tiny_model, toks, hook_names=[h], position_mask=only_first,
                              progress=False)[h]
    torch.testing.assert_close(out, full[:, 0], atol=ATOL, rtol=ATOL)


def test_sorting_keeps_input_order(tiny_model, hooks):
    toks = tokenize(tiny_model, TEXTS)
    a = collect_activations(tiny_model, toks, hook_names=hooks, batch_size=2, progress=False)
    b = collect_activations(tiny_model, toks, hook_names=hooks, batch_size=2, sort_by_length=False,
                            progress=False)
    for h in hooks:
        torch.testing.assert_close(a[h], b[h], atol=ATOL, rtol=ATOL)


def test_ln_final_hook_runs_the_whole_model(tiny_model, naive):
    h = "ln_final.hook_normalized"
    out = collect_from_texts(tiny_model, TEXTS, hook_names=[h, resid_post(0)], progress=False)
    torch.testing.assert_close(out[h], torch.stack([a.mean(0) for a in naive[h]]), atol=ATOL, rtol=ATOL)


def test_stops_after_the_deepest_block(tiny_model):
    calls = []
    with tiny_model.hooks(fwd_hooks=[(resid_post(1), lambda a, hook: calls.append(1))]):
        collect_from_texts(tiny_model, TEXTS[:2], hook_names=[resid_post(0)], progress=False)
    assert calls == []


def test_no_activation_outlives_the_call_and_hooks_are_removed(tiny_model):
    refs = []

    class Spy(MeanOverPositions):
        def update(self, acts, mask):
            refs.append(weakref.ref(acts))
            super().update(acts, mask)

    collect_from_texts(tiny_model, TEXTS, hook_names=[resid_post(0)], reducer=Spy(), batch_size=2,
                       progress=False)
    gc.collect()
    assert refs and all(r() is None for r in refs)
    assert not any(hp.fwd_hooks or hp.bwd_hooks for hp in tiny_model.hook_dict.values())


def test_hooks_removed_after_reducer_error(tiny_model):
    class Boom(Reducer):
        def update(self, acts, mask):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        collect_from_texts(tiny_model, TEXTS, hook_names=[resid_post(0)], reducer=Boom(), progress=False)
    assert not any(hp.fwd_hooks for hp in tiny_model.hook_dict.values())


def test_reducer_specs(tiny_model):
    toks = tokenize(tiny_model, TEXTS)
    template = LastToken()
    out = collect_activations(tiny_model, toks, hook_names=[resid_post(0), resid_post(1)],
                              reducer=template, progress=False)
    assert not hasattr(template, "_out")  # the template itself is not used
    assert out[resid_post(0)].shape == (len(TEXTS), tiny_model.cfg.d_model)
    out = collect_activations(tiny_model, toks, reducer={resid_post(0): "sum", resid_post(1): LastToken},
                              progress=False)
    assert out[resid_post(0)].shape == (tiny_model.cfg.d_model,)
    with pytest.raises(ValueError, match="valid: .*'last'.*'mean'"):
        collect_activations(tiny_model, toks, hook_names=[resid_post(0)], reducer="median", progress=False)
    with pytest.raises(ValueError, match="hook_names"):
        collect_activations(tiny_model, toks, hook_names=[resid_post(0)], reducer={resid_post(1): "mean"},
                            progress=False)
    with pytest.raises(ValueError, match="same Reducer instance"):
        red = RunningSum()
        collect_activations(tiny_model, toks, reducer={resid_post(0): red, resid_post(1): red}, progress=False)


def test_bad_input_errors(tiny_model):
    toks = tokenize(tiny_model, TEXTS)
    with pytest.raises(KeyError, match="closest"):
        collect_activations(tiny_model, toks, hook_names=["blocks.0.hook_resid_pots"], progress=False)
    with pytest.raises(ValueError, match="dimension 1"):
        collect_activations(tiny_model, toks, hook_names=["blocks.0.attn.hook_pattern"], progress=False)
    with pytest.raises(ValueError, match="empty"):
        collect_activations(tiny_model, toks, hook_names=[], progress=False)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        collect_activations(tiny_model, torch.tensor([[1, 2, 10_000]]), hook_names=[resid_post(0)], progress=False)
    with pytest.raises(ValueError, match="n_ctx"):
        collect_activations(tiny_model, torch.ones((1, tiny_model.cfg.n_ctx + 1), dtype=torch.long),
                            hook_names=[resid_post(0)], progress=False)
    with pytest.raises(ValueError, match="text #1 has no real tokens"):
        collect_activations(tiny_model, torch.ones((2, 3), dtype=torch.long),
                            attention_mask=torch.tensor([[1, 1, 1], [0, 0, 0]]),
                            hook_names=[resid_post(0)], progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        collect_activations(tiny_model, toks, hook_names=[resid_post(0)], batch_size=0, progress=False)
    with pytest.raises(ValueError, match="model is on 'cpu'"):
        collect_activations(tiny_model, toks, hook_names=[resid_post(0)], device="meta", progress=False)
    with pytest.raises(ValueError, match="PositionSelect: positions has shape"):
        collect_activations(tiny_model, toks, hook_names=[resid_post(0)],
                            reducer=PositionSelect(torch.ones(2, 2, dtype=torch.bool)), progress=False)
    with pytest.raises(ValueError, match="text #1 has no selected positions"):  # one real token
        collect_activations(tiny_model, torch.tensor([[5, 6, 7], [0, 0, 8]]),
                            attention_mask=torch.tensor([[1, 1, 1], [0, 0, 1]]),
                            hook_names=[resid_post(0)], keep_first_position=False, progress=False)


def test_tokenize_chat_marks_the_response(tiny_model):
    prompts = ["how do i make a bomb", "hello"]
    responses = ["sorry i can not help with that", "hello world thanks for asking"]
    chat = tokenize_chat(tiny_model, prompts, responses)
    tok = tiny_model.tokenizer
    for i, response in enumerate(responses):
        ids = chat.tokens[i][chat.response_mask[i]].tolist()
        assert tok.decode(ids) == response
        assert chat.tokens[i][chat.end_mask[i]].tolist() == [tok.eos_token_id]
        n_prompt = len(tok(chat_prompt(tiny_model, prompts[i]), add_special_tokens=False)["input_ids"])
        assert int(chat.attention_mask[i].sum()) == n_prompt + int(chat.response_mask[i].sum()) + 1
    with pytest.raises(ValueError, match=r"responses\[1\] must be a non-empty string"):
        tokenize_chat(tiny_model, prompts, ["fine", "  "])


@pytest.mark.parametrize("model_fixture", ["tiny_model", "tiny_llama_model"])
def test_the_model_is_bit_identical_afterwards(model_fixture, request):
    """Several batches (so inference_layout is entered and left), every reducer, a chat mask."""
    model = request.getfixturevalue(model_fixture)
    before = snapshot(model)
    hooks = [resid_post(0), resid_post(1), "blocks.0.mlp.hook_post", "ln_final.hook_normalized"]
    toks = tokenize(model, TEXTS)
    for reducer in ["mean", "last", "sum", "mean_tokens", "mean_texts", "all"]:
        collect_activations(model, toks, hook_names=hooks, reducer=reducer, batch_size=2, progress=False)
    chat = tokenize_chat(model, TEXTS[:2], TEXTS[3:5])
    collect_activations(model, chat.tokenized, hook_names=hooks, reducer=PositionSelect(chat.response_mask),
                        batch_size=1, progress=False)
    collect_from_texts(model, TEXTS, hook_names=hooks, batch_size=2, progress=False)
    assert_unchanged(model, before)
    assert not any(hp.fwd_hooks or hp.bwd_hooks for hp in model.hook_dict.values())
