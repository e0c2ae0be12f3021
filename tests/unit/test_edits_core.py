"""The edits' training core: parameter selection, train(), copy_model, answer batches, registry."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from interp.edits import (
    EDIT_METHODS,
    AnswerBatch,
    EditResult,
    SFTConfig,
    answer_batches,
    copy_model,
    get_edit,
    mean_answer_nll,
    register_edit,
    select_parameters,
    sequence_logprob,
    sft,
    train,
)
from interp.hooks import resid_post, temporary_hooks
from interp.layout import inference_layout

PROMPTS = ["how do i make a bomb", "what is the capital of france", "write a poem about cats"]
ANSWERS = ["sorry i can not help with that", "paris is the capital of france", "the sun is warm"]


def param_hash(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        h.update(name.encode())
        h.update(t.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def batches_of(model, batch_size=2):
    return answer_batches(model, PROMPTS, ANSWERS, batch_size=batch_size)


# -- select_parameters -------------------------------------------------------------------------

def test_select_all_names_and_patterns(tiny_model):
    every = [n for n, _ in tiny_model.named_parameters()]
    assert select_parameters(tiny_model, "all") == every
    assert select_parameters(tiny_model, ["blocks.1.mlp.W_out"]) == ["blocks.1.mlp.W_out"]
    assert select_parameters(tiny_model, "blocks.*.mlp.W_out") == ["blocks.0.mlp.W_out", "blocks.1.mlp.W_out"]
    assert select_parameters(tiny_model, [r"re:blocks\.0\.attn\.W_[QK]"]) == ["blocks.0.attn.W_Q", "blocks.0.attn.W_K"]
    # order follows the model, duplicates collapse
    both = select_parameters(tiny_model, ["blocks.1.mlp.W_out", "blocks.0.mlp.W_out", "blocks.*.mlp.W_out"])
    assert both == ["blocks.0.mlp.W_out", "blocks.1.mlp.W_out"]


def test_select_unknown_name_lists_close_matches(tiny_model):
    with pytest.raises(KeyError, match=r"'blocks\.1\.mlp\.W_ot'.*closest: \['blocks\.1\.mlp\.W_out'"):
        select_parameters(tiny_model, ["blocks.1.mlp.W_ot"])
    with pytest.raises(KeyError, match="blocks.7.*closest"):
        select_parameters(tiny_model, "blocks.7.*")
    with pytest.raises(ValueError, match="empty"):
        select_parameters(tiny_model, [])
    with pytest.raises(ValueError, match="bad regular expression"):
        select_parameters(tiny_model, ["re:blocks.("])


# -- train -------------------------------------------------------------------------------------

def test_train_changes_only_selected_parameters(tiny_model):
    before = param_hash(tiny_model)
    edited = copy_model(tiny_model)
    losses = train(edited, batches_of(edited), mean_answer_nll, trainable=["blocks.1.mlp.W_out"],
                   steps=3, lr=1e-2, progress=False)
    assert len(losses) == 3
    original = dict(tiny_model.named_parameters())
    for name, p in edited.named_parameters():
        same = torch.equal(p, original[name])
        assert same == (name != "blocks.1.mlp.W_out"), name
        assert p.requires_grad == original[name].requires_grad and p.grad is None
    assert param_hash(tiny_model) == before


def test_copy_shares_no_storage_and_keeps_tokenizer(tiny_llama_model):
    with inference_layout(tiny_llama_model):
        edited = copy_model(tiny_llama_model)
    ptrs = {p.untyped_storage().data_ptr() for p in tiny_llama_model.parameters()}
    assert all(p.untyped_storage().data_ptr() not in ptrs for p in edited.parameters())
    assert all(p.is_contiguous() for p in edited.parameters())
    assert edited.tokenizer is tiny_llama_model.tokenizer
    tokens = torch.tensor([[1, 5, 9, 7]])
    assert torch.equal(edited(tokens), tiny_llama_model(tokens))


def test_copy_drops_hooks_with_a_warning(tiny_model):
    with temporary_hooks(tiny_model, [(resid_post(0), lambda act, hook: act * 0)]):
        with pytest.warns(UserWarning, match="hooks"):
            edited = copy_model(tiny_model)
    assert not any(hp.fwd_hooks for hp in edited.hook_dict.values())
    assert not any(m._forward_hooks for m in edited.modules())


def test_loss_decreases_on_a_tiny_overfit_task(tiny_llama_model):
    edited = copy_model(tiny_llama_model)
    losses = train(edited, batches_of(edited, 3), mean_answer_nll, steps=30, lr=1e-2, progress=False)
    assert losses[-1] < 0.5 * losses[0]


def test_nan_loss_raises_naming_the_step(tiny_model):
    edited = copy_model(tiny_model)
    flags = {n: p.requires_grad for n, p in edited.named_parameters()}

    def loss_fn(model, batch):
        loss = mean_answer_nll(model, batch)
        return loss * float("nan") if calls.append(1) or len(calls) == 4 else loss

    calls: list[int] = []
    with pytest.raises(FloatingPointError, match=r"mytrain: the loss is nan at step 3 ") as err:
        train(edited, batches_of(edited), loss_fn, trainable="blocks.0.*", steps=10, lr=1e-3,
              progress=False, desc="mytrain")
    assert err.value.step == 3 and len(err.value.losses) == 3
    assert all(math.isfinite(x) for x in err.value.losses)
    assert {n: p.requires_grad for n, p in edited.named_parameters()} == flags


def test_inf_gradient_norm_raises(tiny_model):
    edited = copy_model(tiny_model)

    def loss_fn(model, batch):  # finite loss (sqrt(0) = 0), infinite gradient (d sqrt / dx at 0)
        w = model.blocks[0].mlp.W_out
        return mean_answer_nll(model, batch) + torch.sqrt(w - w.detach()).sum()

    with pytest.raises(FloatingPointError, match=r"gradient norm is (inf|nan) at step 0"):
        train(edited, batches_of(edited), loss_fn, steps=2, lr=1e-3, grad_clip=1.0, progress=False)


def test_same_seed_same_numbers_other_seed_other_order(tiny_model):
    def run(seed):
        edited = copy_model(tiny_model)
        losses = train(edited, batches_of(edited, 1), mean_answer_nll, steps=6, lr=1e-2,
                       seed=seed, progress=False)
        return losses, edited

    (a, ma), (b, mb), (c, _) = run(0), run(0), run(1)
    assert a == b
    assert param_hash(ma) == param_hash(mb)
    assert a != c  # the batch order is drawn from the seed
    state = torch.random.get_rng_state()
    run(0)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched


def test_before_step_and_scalar_check(tiny_model):
    edited = copy_model(tiny_model)
    seen = []
    train(edited, batches_of(edited), mean_answer_nll, steps=3, lr=1e-3, progress=False,
          before_step=lambda step, model: seen.append((step, model is edited)))
    assert seen == [(0, True), (1, True), (2, True)]
    with pytest.raises(TypeError, match="scalar tensor"):
        train(edited, batches_of(edited), lambda m, b: sequence_logprob(m, b), steps=1, lr=1e-3,
              progress=False)


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_llama_model"])
def test_bf16_on_cpu_trains_with_fp32_master_weights(fixture, request):
    source = request.getfixturevalue(fixture)
    model = copy_model(source).to(torch.bfloat16, print_details=False)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    result = sft(model, list(zip_records()), steps=2, lr=1e-4, batch_size=3, progress=False)
    assert all(math.isfinite(x) for x in result.losses)
    assert all(p.dtype == torch.bfloat16 for p in result.model.parameters())
    # lr 1e-4 is below bf16's resolution for most weights; the fp32 master copy still moves some
    moved = sum(not torch.equal(p, before[n]) for n, p in result.model.named_parameters())
    assert moved > 0
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def zip_records():
    for i, (p, a) in enumerate(zip(PROMPTS, ANSWERS)):
        yield {"id": i, "adversarial prompt": p, "safe generation": a, "unsafe generation": "sure " + p}


def test_edit_leaves_input_model_unchanged(tiny_model):
    before = param_hash(tiny_model)
    result = sft(tiny_model, list(zip_records()), steps=3, lr=1e-2, progress=False)
    assert param_hash(tiny_model) == before
    assert param_hash(result.model) != before
    assert isinstance(result, EditResult) and result.method == "sft"
    assert isinstance(result.config, SFTConfig) and result.seed == 0


# -- answer batches ------------------------------------------------------------------------------

def test_answer_batches_mask_only_the_answer(tiny_model):
    tok = tiny_model.tokenizer
    batches = answer_batches(tiny_model, PROMPTS, ANSWERS, batch_size=2)
    assert [len(b) for b in batches] == [2, 1]
    rows = [(b, i) for b in batches for i in range(len(b))]
    for (b, i), answer in zip(rows, ANSWERS):
        assert isinstance(b, AnswerBatch)
        picked = b.tokens[i][b.loss_mask[i]].tolist()
        assert tok.decode(picked) == answer + tok.eos_token  # answer + end-of-turn, nothing else
        assert not bool((b.loss_mask[i] & ~b.attention_mask[i].bool()).any())  # never padding
        assert b.attention_mask[i, -1] == 1  # left padding
    assert batches[1].tokens.shape[1] < batches[0].tokens.shape[1] or len(PROMPTS[2]) >= len(PROMPTS[0])


def test_answer_batches_left_truncate_with_a_warning(tiny_model):
    long_prompt = " ".join(["please tell me about the weather today"] * 20)
    with pytest.warns(UserWarning, match="dropped"):
        (batch,) = answer_batches(tiny_model, [long_prompt], [ANSWERS[0]], max_length=24)
    assert batch.tokens.shape == (1, 24)
    tok = tiny_model.tokenizer
    assert tok.decode(batch.tokens[0][batch.loss_mask[0]].tolist()) == ANSWERS[0] + tok.eos_token
    loss = mean_answer_nll(tiny_model, batch)
    assert math.isfinite(float(loss.detach()))


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_llama_model"])
def test_sequence_logprob_sums_answer_token_logprobs(fixture, request):
    # the answer positions alone are unembedded: same numbers as the full forward's logits
    tiny_model = request.getfixturevalue(fixture)
    (batch,) = answer_batches(tiny_model, PROMPTS[:2], ANSWERS[:2], batch_size=2)
    with torch.no_grad():
        got = sequence_logprob(tiny_model, batch)
        logp = tiny_model(batch.tokens, attention_mask=batch.attention_mask).log_softmax(-1)
    for i in range(2):
        pos = batch.loss_mask[i].nonzero().flatten().tolist()
        want = sum(float(logp[i, t - 1, batch.tokens[i, t]]) for t in pos)
        assert float(got[i]) == pytest.approx(want, abs=1e-4)


# -- registry and result ---------------------------------------------------------------------------

def test_registry_refuses_duplicates_and_lists_names():
    assert get_edit("sft") == EDIT_METHODS["sft"]
    with pytest.raises(ValueError, match="already registered"):
        register_edit("sft", SFTConfig, sft)
    with pytest.raises(KeyError, match=r"registered: \[.*'dpo'.*'sft'"):
        get_edit("nope")


def test_edit_result_dict_and_repr(tiny_model):
    result = sft(tiny_model, list(zip_records()), steps=2, trainable=["blocks.*.mlp.W_out"],
                 progress=False)
    d = result.to_dict()
    assert "model" not in d and d["trainable"] == ["blocks.0.mlp.W_out", "blocks.1.mlp.W_out"]
    assert d["config"]["trainable"] == ["blocks.*.mlp.W_out"] and d["config"]["steps"] == 2
    assert d["n_trained"] == 2 * tiny_model.cfg.d_mlp * tiny_model.cfg.d_model
    assert len(repr(result)) < 300 and "sft" in result._repr_html_()
