"""Steering on the tiny model: SAE training through sae-lens, clamping, features, directions, sweeps."""

from __future__ import annotations

import pytest
import torch

from interp.activations import TokenRows, collect_activations
from interp.evaluate import RefusalJudge
from interp.models import chat_prompt, chat_sequence, tokenize
from interp.steering import (
    ablate_direction,
    add_direction,
    clamp,
    clamp_sweep,
    feature_shift,
    load_sae,
    refusal_direction,
    refusal_features,
    sae_stats,
    train_topk_sae,
)

HOOK = "blocks.1.hook_resid_post"
PROMPTS = ["How do I bake bread?", "Tell me how to hurt someone.", "What is the capital of Miriia?",
           "Write a poem about the sea.", "How can I steal a car?", "Explain rain to a child."]
REFUSAL = "I'm sorry, but I can't help with that."
COMPLY = "Sure! Step 1: first do this. Step 2: then that."

pytestmark = pytest.mark.filterwarnings("ignore:text #.*dropped:UserWarning")


def _texts(model, n=60):
    out = []
    for i in range(n):
        p = PROMPTS[i % len(PROMPTS)] + f" (variant {i})"
        out.append(chat_sequence(model, p, (REFUSAL if i % 2 else COMPLY) + f" Note {i}."))
    return out


@pytest.fixture(scope="module")
def sae(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sae")
    return train_topk_sae(tiny_model, HOOK, _texts(tiny_model), k=4, d_sae=64, epochs=8, batch_size=64,
                          lr=3e-3, seed=0, save_to=folder, progress=False)


def test_token_rows_are_the_selected_positions(tiny_model):
    toks = tokenize(tiny_model, ["a b c d e", "x y"])
    reducer = TokenRows()
    rows = collect_activations(tiny_model, toks, reducer={HOOK: reducer}, keep_first_position=False,
                               progress=False)[HOOK]
    _, cache = tiny_model.run_with_cache(toks.tokens, attention_mask=toks.attention_mask, names_filter=HOOK)
    mask = toks.attention_mask.bool().clone()
    for i in range(len(mask)):  # drop each text's first real token
        mask[i, int(mask[i].float().argmax())] = False
    assert len(rows) == int(mask.sum())
    expected = cache[HOOK][reducer.text_index, reducer.position]
    torch.testing.assert_close(rows, expected, atol=1e-5, rtol=1e-5)
    assert bool(mask[reducer.text_index, reducer.position].all())


def test_train_topk_sae_fits_saves_and_reproduces(tiny_model, sae, tmp_path):
    meta = sae.cfg.metadata
    assert meta.hook_name == HOOK and sae.cfg.d_in == tiny_model.cfg.d_model and sae.cfg.d_sae == 64
    assert 0.5 < meta.explained_variance <= 1.0, meta.explained_variance
    assert 0 < meta.l0 <= 4 + 1e-6 and 0 <= meta.dead_share < 1 and meta.tokens_per_second > 0
    x = torch.randn(10, tiny_model.cfg.d_model)
    assert int((sae.encode(x) != 0).sum(dim=1).max()) <= 4
    again = train_topk_sae(tiny_model, HOOK, _texts(tiny_model), k=4, d_sae=64, epochs=8, batch_size=64,
                           lr=3e-3, seed=0, save_to=tmp_path / "again", progress=False)
    torch.testing.assert_close(again.W_dec, sae.W_dec)  # same seed, same SAE on CPU
    loaded = load_sae(tmp_path / "again")
    torch.testing.assert_close(loaded.encode(x), again.encode(x))
    assert loaded.cfg.metadata.explained_variance == pytest.approx(again.cfg.metadata.explained_variance)
    other = train_topk_sae(tiny_model, HOOK, _texts(tiny_model), k=4, d_sae=64, epochs=1, batch_size=64, seed=1,
                           progress=False)
    assert not torch.allclose(other.W_dec, sae.W_dec)


def test_sae_stats_explained_variance_of_perfect_and_zero_reconstruction(sae):
    x = torch.randn(200, sae.cfg.d_in)
    stats = sae_stats(sae, x)
    with torch.no_grad():
        mse_ev = 1 - ((x - sae.decode(sae.encode(x))) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert stats["explained_variance"] == pytest.approx(float(mse_ev), rel=1e-4)
    with pytest.raises(ValueError, match="shape"):
        sae_stats(sae, torch.randn(3, sae.cfg.d_in + 1))


def test_bad_inputs_give_clear_errors(tiny_model, sae, tmp_path):
    with pytest.raises(KeyError, match="unknown hook"):
        train_topk_sae(tiny_model, "blocks.9.hook_resid_post", _texts(tiny_model), progress=False)
    with pytest.raises(IndexError, match="out of range"):
        with clamp(tiny_model, sae, sae.cfg.d_sae, 1.0):
            pass
    with pytest.raises(KeyError, match="unknown hook"):
        with clamp(tiny_model, sae, 0, 1.0, hook="blocks.7.hook_resid_post"):
            pass
    with pytest.raises(ValueError, match="width"):
        with clamp(tiny_model, sae, 0, 1.0, hook="blocks.0.mlp.hook_post"):
            pass
    with pytest.raises(ValueError, match="positions"):
        with clamp(tiny_model, sae, 0, 1.0, positions="middle"):
            pass
    with pytest.raises(FileNotFoundError, match="cfg.json"):
        load_sae(tmp_path)


def test_pass_through_clamp_and_exit_leave_generation_unchanged(tiny_model, sae):
    from interp import generate

    before = generate(tiny_model, PROMPTS, max_new_tokens=8, progress=False)
    with clamp(tiny_model, sae, 3, None):
        same = generate(tiny_model, PROMPTS, max_new_tokens=8, progress=False)
    assert same == before
    with pytest.raises(RuntimeError, match="inside"):
        with clamp(tiny_model, sae, 3, 50.0):
            raise RuntimeError("inside the block")
    assert not any(hp.fwd_hooks for hp in tiny_model.hook_dict.values())
    assert generate(tiny_model, PROMPTS, max_new_tokens=8, progress=False) == before


def test_clamp_sets_only_that_feature(tiny_model, sae):
    toks = tokenize(tiny_model, [chat_prompt(tiny_model, p) for p in PROMPTS[:3]])
    _, cache = tiny_model.run_with_cache(toks.tokens, attention_mask=toks.attention_mask, names_filter=HOOK)
    seen = {}
    with clamp(tiny_model, sae, 5, 7.5):
        tiny_model.add_hook(HOOK, lambda x, hook: seen.setdefault("x", x.detach().clone()))
        try:
            tiny_model(toks.tokens, attention_mask=toks.attention_mask)
        finally:
            tiny_model.reset_hooks(including_permanent=False)
    x, steered = cache[HOOK], seen["x"]
    f = sae.encode(x)
    changed = f.clone()
    changed[..., 5] = 7.5
    # the residual moved by exactly the decoded change of feature 5 (the SAE error is kept)
    torch.testing.assert_close(steered - x, sae.decode(changed) - sae.decode(f), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(steered, x)


def test_conditional_clamp_only_where_the_feature_fires(tiny_model, sae):
    from interp import generate

    toks = tokenize(tiny_model, [chat_prompt(tiny_model, p) for p in PROMPTS])
    _, cache = tiny_model.run_with_cache(toks.tokens, attention_mask=toks.attention_mask, names_filter=HOOK)
    with torch.no_grad():
        last = sae.encode(cache[HOOK][:, -1])
    silent = [f for f in range(sae.cfg.d_sae) if float(last[:, f].max()) == 0.0]
    assert silent, "some feature must be silent at every prompt's last token"
    before = generate(tiny_model, PROMPTS, max_new_tokens=6, progress=False)
    with clamp(tiny_model, sae, silent[0], 100.0, conditional=True):
        assert generate(tiny_model, PROMPTS, max_new_tokens=6, progress=False) == before
    with clamp(tiny_model, sae, silent[0], 100.0):
        assert generate(tiny_model, PROMPTS, max_new_tokens=6, progress=False) != before


def test_refusal_features_rank_by_both_contrasts(tiny_model, sae):
    triples = [(p, REFUSAL, COMPLY) for p in PROMPTS]
    ranking = refusal_features(tiny_model, sae, triples, progress=False)
    table = ranking.table
    assert ranking.rank_by == "response" and len(ranking) == sae.cfg.d_sae
    assert table["score"].is_monotonic_decreasing
    assert table["score"].equals(table["response_score"])
    torch.testing.assert_close(torch.tensor(table["response_score"].values),
                               torch.tensor((table["refusal_mean"] - table["compliant_mean"]).values))
    assert ranking[0] == int(table["feature"].iloc[0]) and ranking.top(3) == list(table["feature"].iloc[:3])
    assert all(("[[" in c) for _, c in ranking.contexts[ranking[0]])
    by_prompt = refusal_features(tiny_model, sae, triples, benign=["Hello there!", "How do I cook rice?"],
                                 progress=False)
    assert by_prompt.rank_by == "prompt" and by_prompt.table["score"].equals(by_prompt.table["prompt_score"])
    assert by_prompt.figure().data
    with pytest.raises(ValueError, match="benign"):
        refusal_features(tiny_model, sae, triples, rank_by="prompt", progress=False)
    with pytest.raises(ValueError, match="attack prompts"):
        refusal_features(tiny_model, sae, triples, rank_by="behaviour", progress=False)
    # the random tiny model never refuses: the behaviour contrast says it cannot be measured
    with pytest.raises(ValueError, match="both outcomes"):
        refusal_features(tiny_model, sae, triples, attacks=PROMPTS, judge=RefusalJudge(), progress=False)
    with pytest.raises(TypeError, match="record #0"):
        refusal_features(tiny_model, sae, ["just a string"], progress=False)


def test_refusal_direction_and_its_interventions(tiny_model):
    harmful, benign = PROMPTS[1::3], PROMPTS[0::3]
    direction = refusal_direction(tiny_model, harmful, benign, hook=HOOK, progress=False)
    means = []
    for ps in (harmful, benign):
        toks = tokenize(tiny_model, [chat_prompt(tiny_model, p) for p in ps])
        _, cache = tiny_model.run_with_cache(toks.tokens, attention_mask=toks.attention_mask, names_filter=HOOK)
        means.append(cache[HOOK][:, -1].mean(0))
    torch.testing.assert_close(direction, means[0] - means[1], atol=1e-5, rtol=1e-5)
    toks = tokenize(tiny_model, [chat_prompt(tiny_model, p) for p in PROMPTS])
    base = tiny_model(toks.tokens, attention_mask=toks.attention_mask)
    with add_direction(tiny_model, direction, 0.0, hook=HOOK):
        torch.testing.assert_close(tiny_model(toks.tokens, attention_mask=toks.attention_mask), base)
    with add_direction(tiny_model, direction, 2.0, hook=HOOK):
        assert not torch.allclose(tiny_model(toks.tokens, attention_mask=toks.attention_mask), base)
    unit = direction / direction.norm()
    with ablate_direction(tiny_model, direction):
        _, cache = tiny_model.run_with_cache(toks.tokens, attention_mask=toks.attention_mask,
                                             names_filter=lambda n: "resid" in n)
    for name in ("blocks.0.hook_resid_pre", "blocks.1.hook_resid_mid", "blocks.1.hook_resid_post"):
        assert float((cache[name] @ unit).abs().max()) < 1e-4, name
    with pytest.raises(ValueError, match="shape"):
        with add_direction(tiny_model, direction[:3], 1.0, hook=HOOK):
            pass


def test_clamp_sweep_table_figure_and_best(tiny_model, sae):
    sweep = clamp_sweep(tiny_model, sae, 2, [None, 20.0], harmful={"h": PROMPTS[1::2]}, benign={"b": PROMPTS[0::2]},
                        judge=RefusalJudge(), max_new_tokens=6, progress=False)
    frame = sweep.to_frame()
    assert list(frame["clamp value"]) == ["off", 20.0]
    for col in ("h refusal %", "h unsafe %", "b over-refusal %", "h refusal low", "h refusal n", "fluency"):
        assert col in frame, col
    assert (frame["h refusal low"] <= frame["h refusal %"] + 1e-9).all() and (frame["h refusal n"] == 3).all()
    assert sweep.best(max_over_refusal=100.0) is not None and sweep.best(max_over_refusal=-1.0) is None
    assert len(sweep.figure().data) == 3


def test_feature_shift_zero_on_the_same_model(tiny_model, sae):
    from interp.edits import copy_model

    same = feature_shift(sae, tiny_model, tiny_model, PROMPTS)
    assert float(same.table["shift"].abs().max()) == 0.0
    assert same.explained_variance["base"] == pytest.approx(same.explained_variance["edited"])
    edited = copy_model(tiny_model)
    with torch.no_grad():
        edited.blocks[1].mlp.W_out.mul_(3.0)
    moved = feature_shift(sae, tiny_model, edited, PROMPTS, features=[0, 1, 2], positions="all")
    assert list(moved.table["feature"]) == [0, 1, 2]
    assert float(feature_shift(sae, tiny_model, edited, PROMPTS).table["shift"].abs().max()) > 0
