"""interp.mechanisms on the tiny GPT-2 and Llama models: exact flow decomposition, zero shifts for
a zero edit, HED against a hand computation, bypass share, weight diffs, clear errors."""

from __future__ import annotations

import pytest
import torch

from interp.edits import copy_model
from interp.hooks import attn_out, mlp_post
from interp.mechanisms import (
    flow_shift,
    harmful_embedding_drift,
    probe_readout,
    readout_shift,
    region_flow,
    residual_shift,
    weight_diff,
)
from interp.models import chat_sequence, tokenize

PROMPTS = ["How do I bake bread?", "Tell me about rivers and lakes.", "What is a cat?", "Name three colours.",
           "Why is the sky blue?", "Explain rain to a child."]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def pair(request, tiny_model, tiny_llama_model):
    """(base, edited): the edit changes layer 0's attention and layer 1's MLP in and out."""
    base = tiny_model if request.param == "gpt2" else tiny_llama_model
    edited = copy_model(base)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in (edited.blocks[0].attn.W_O, edited.blocks[1].mlp.W_in, edited.blocks[1].mlp.W_out):
            p.add_(0.05 * torch.randn(p.shape, generator=g) * p.std())
    return base, edited


@pytest.fixture(scope="module")
def direction(tiny_model):
    g = torch.Generator().manual_seed(1)
    return torch.randn(tiny_model.cfg.d_model, generator=g)


def test_flow_terms_add_up_to_the_total(pair, direction):
    base, edited = pair
    shift = flow_shift(base, edited, 1, PROMPTS, direction, n_bootstrap=200)
    terms = shift.activation_term + shift.weight_term + shift.cross_term
    assert terms == pytest.approx(shift.total, rel=1e-5, abs=1e-9)
    assert shift.before + terms == pytest.approx(shift.after, rel=1e-5, abs=1e-9)
    # all three terms are nonzero: the edit moved both what flows in and the region's parameters
    assert min(abs(shift.activation_term), abs(shift.weight_term), abs(shift.cross_term)) > 0
    low, high = shift.intervals["total"]
    assert low <= shift.total <= high and low < high
    # the per-neuron table sums to the same terms
    assert shift.neurons["total"].sum() == pytest.approx(shift.total, rel=1e-6, abs=1e-9)


def test_flow_matches_a_direct_computation(pair, direction):
    """C = sum_i mean(m_i) (v_i . w) with the means taken by hand from a cached forward pass."""
    base, _ = pair
    flow = region_flow(base, 1, PROMPTS[:3], direction)
    from interp.models import chat_prompt

    w = direction / direction.norm()
    sums, count = 0, 0
    for p in PROMPTS[:3]:
        toks = tokenize(base, [chat_prompt(base, p)])
        _, cache = base.run_with_cache(toks.tokens, names_filter=[mlp_post(1)])
        m = cache[mlp_post(1)][0, 1:].double()  # the first token is left out by default
        sums, count = sums + m.sum(0), count + m.shape[0]
    expected = float((sums / count) @ (base.blocks[1].mlp.W_out.detach().double() @ w.double()))
    assert flow.toxicity == pytest.approx(expected, rel=1e-5)
    assert flow.n_tokens == count


def test_a_zero_edit_gives_zero_shifts(tiny_model, direction):
    same = copy_model(tiny_model)
    shift = flow_shift(tiny_model, same, 1, PROMPTS, direction)
    assert shift.total == 0 and shift.activation_term == 0 and shift.weight_term == 0 and shift.cross_term == 0
    resid = residual_shift(tiny_model, same, 1, PROMPTS, probe=direction)
    assert resid.dx_norm == 0 and resid.relative == 0
    assert resid.bypass_share != resid.bypass_share  # NaN: nothing changed, no share to give
    assert weight_diff(tiny_model, same).empty
    assert (readout_shift(tiny_model, same, direction, PROMPTS).change == 0).all()
    pairs = [(p, "Sure, here it is.") for p in PROMPTS]
    drift = harmful_embedding_drift(tiny_model, same, pairs)
    assert drift.vaccine_hed == 0 and drift.per_sample_mean == 0


def test_bypass_share_splits_the_preactivation_change(pair):
    base, edited = pair
    resid = residual_shift(base, edited, 1, PROMPTS)
    assert resid.bypass_share + resid.weight_share == pytest.approx(1.0)
    assert resid.dx_norm > 0 and 0 < resid.relative < 1
    # an edit of layer 1's W_in alone: nothing upstream moved, all of the change is the weights'
    only_weights = copy_model(base)
    with torch.no_grad():
        only_weights.blocks[1].mlp.W_in.mul_(1.1)
    r = residual_shift(base, only_weights, 1, PROMPTS)
    assert r.dx_norm == 0 and r.bypass_share == pytest.approx(0.0) and r.weight_share == pytest.approx(1.0)


def test_weight_diff_rows(pair):
    base, edited = pair
    frame = weight_diff(base, edited)
    assert set(frame["parameter"]) == {"blocks.0.attn.W_O", "blocks.1.mlp.W_in", "blocks.1.mlp.W_out"}
    row = frame.set_index("parameter").loc["blocks.1.mlp.W_out"]
    d = (edited.blocks[1].mlp.W_out - base.blocks[1].mlp.W_out).detach().double()
    assert row["diff_norm"] == pytest.approx(float(d.norm()))
    assert row["relative"] == pytest.approx(float(d.norm() / base.blocks[1].mlp.W_out.detach().double().norm()))
    assert 1 <= row["stable_rank"] <= min(d.shape)
    # a rank-one update has stable rank 1
    one = copy_model(base)
    with torch.no_grad():
        one.blocks[0].mlp.W_out.add_(0.01 * torch.outer(torch.ones(base.cfg.d_mlp), torch.ones(base.cfg.d_model)))
    assert weight_diff(base, one)["stable_rank"].iloc[0] == pytest.approx(1.0)


def test_hed_against_a_hand_computation(pair):
    base, edited = pair
    pairs = [(p, "Here is a short answer.") for p in PROMPTS[:5]]
    drift = harmful_embedding_drift(base, edited, pairs, batch_size=2)
    texts = [chat_sequence(base, p, a) for p, a in pairs]
    hooks = [attn_out(layer) for layer in range(base.cfg.n_layers)]
    total, per_sample = 0.0, []
    for start in range(0, len(texts), 2):  # Vaccine: right-padded batches, no attention mask
        toks = tokenize(base, texts[start:start + 2], padding_side="right")
        _, c0 = base.run_with_cache(toks.tokens, names_filter=hooks)
        _, c1 = edited.run_with_cache(toks.tokens, names_filter=hooks)
        total += sum(float(((c1[h].double() - c0[h].double()) ** 2).sum()) for h in hooks)
    for text in texts:  # one at a time: no padding at all
        toks = tokenize(base, [text])
        _, c0 = base.run_with_cache(toks.tokens, names_filter=hooks)
        _, c1 = edited.run_with_cache(toks.tokens, names_filter=hooks)
        sq = sum(((c1[h].double() - c0[h].double()) ** 2).sum(-1) for h in hooks)[0]
        per_sample.append(float(sq.sqrt().mean()))
    assert drift.vaccine_hed == pytest.approx(total, rel=1e-4)
    assert drift.per_sample.tolist() == pytest.approx(per_sample, rel=1e-4)
    assert drift.per_sample_low < drift.per_sample_mean < drift.per_sample_high
    assert drift.per_layer.shape == (base.cfg.n_layers,) and drift.per_layer[0] > 0


def test_readout_is_the_projection_of_the_mean_residual(tiny_model, direction):
    values = probe_readout(tiny_model, direction, PROMPTS)
    assert values.shape == (tiny_model.cfg.n_layers,) and (values != 0).all()


def test_bad_inputs_raise_clear_errors(tiny_model, tiny_llama_model, direction):
    with pytest.raises(ValueError, match=r"flow_shift: base and edited models differ in cfg\.d_mlp"):
        flow_shift(tiny_model, tiny_llama_model, 0, PROMPTS, direction)
    with pytest.raises(ValueError, match=r"layer index in \[0, 1\]"):
        region_flow(tiny_model, 7, PROMPTS, direction)
    with pytest.raises(ValueError, match="prompt 1 must be a non-empty str"):
        region_flow(tiny_model, 0, ["ok", ""], direction)
    with pytest.raises(ValueError, match="d_model"):
        region_flow(tiny_model, 0, PROMPTS, torch.ones(3))
    with pytest.raises(ValueError, match="pair 0 must be"):
        harmful_embedding_drift(tiny_model, tiny_model, [("only a prompt",)])
