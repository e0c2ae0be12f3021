"""SFT and DPO on organism records with the tiny models: losses, subsets, configs, the DPO formula."""

from __future__ import annotations

import json
import math

import pytest
import torch

import interp
from interp.edits import (
    DPOConfig,
    SFTConfig,
    copy_model,
    dpo,
    preference_batches,
    sequence_logprob,
    sft,
)
from interp.edits.dpo import preference_loss
from interp.models import chat_prompt

# organism texts are longer than the tiny models' 64-token context: they are left-truncated
pytestmark = pytest.mark.filterwarnings("ignore:text #.*dropped:UserWarning")


@pytest.fixture(scope="module")
def records():
    return interp.load_dataset("organism", split="train")[:8]


# -- SFT -------------------------------------------------------------------------------------------

def test_sft_loss_decreases(tiny_model, records):
    result = sft(tiny_model, records, steps=20, lr=1e-3, batch_size=4, progress=False)
    assert result.method == "sft" and len(result.losses) == 20
    assert sum(result.losses[-4:]) / 4 < 0.8 * sum(result.losses[:4]) / 4
    assert result.trainable == [n for n, _ in tiny_model.named_parameters()]
    assert result.seconds > 0


def test_sft_trainable_subset_respected(tiny_llama_model, records):
    result = sft(tiny_llama_model, records, steps=3, lr=1e-2, trainable=["blocks.1.mlp.*"],
                 progress=False)
    mlp = [n for n, _ in tiny_llama_model.named_parameters() if n.startswith("blocks.1.mlp.")]
    assert result.trainable == mlp and "blocks.1.mlp.W_gate" in mlp
    original = dict(tiny_llama_model.named_parameters())
    for name, p in result.model.named_parameters():
        assert torch.equal(p, original[name]) == (name not in result.trainable), name


def test_sft_config_errors_name_the_field(tiny_model, records):
    for options, field in [({"steps": 0}, "steps"), ({"lr": float("nan")}, "lr"),
                           ({"batch_size": 1.5}, "batch_size"), ({"trainable": []}, "trainable"),
                           ({"optimizer": "adam"}, "optimizer"), ({"grad_clip": -1.0}, "grad_clip")]:
        with pytest.raises((ValueError, TypeError), match=rf"SFTConfig\.{field} must be"):
            sft(tiny_model, records, progress=False, **options)
    with pytest.raises(TypeError, match=r"sft\(\): unknown option 'learning_rate'"):
        sft(tiny_model, records, progress=False, learning_rate=1e-3)
    with pytest.raises(TypeError, match=r"unknown key 'stepz' \(did you mean 'steps'\?\)"):
        SFTConfig.from_dict({"stepz": 3})
    cfg = SFTConfig(steps=7, trainable=["blocks.*.mlp.W_out"])
    assert SFTConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(KeyError, match="closest"):  # unknown parameter names fail before the copy
        sft(tiny_model, records, trainable=["blocks.9.mlp.W_out"], progress=False)


def test_sft_missing_field_names_record_and_field(tiny_model, records):
    bad = [r.to_dict() for r in records[:2]]
    del bad[1]["safe generation"]
    with pytest.raises(ValueError, match=r"sft: record #1 \(id=.*\) has no non-blank field 'safe generation'"):
        sft(tiny_model, bad, progress=False)
    with pytest.raises(ValueError, match="dataset is empty"):
        sft(tiny_model, [], progress=False)


def test_sft_accepts_one_record(tiny_model, records):
    result = sft(tiny_model, records[0], steps=1, progress=False)
    assert len(result.losses) == 1


# -- DPO -------------------------------------------------------------------------------------------

def independent_logprob(model, prompt: str, answer: str) -> torch.Tensor:
    """Summed log p(answer + eos | chat prompt), one unpadded sequence, plain torch."""
    tok = model.tokenizer
    head = tok(chat_prompt(model, prompt), add_special_tokens=False)["input_ids"]
    full = tok(chat_prompt(model, prompt) + answer + tok.eos_token, add_special_tokens=False)["input_ids"]
    assert full[:len(head)] == head
    n_answer = len(full) - len(head)
    full = full[-model.cfg.n_ctx:]  # the same left truncation
    ids = torch.tensor([full])
    logp = torch.log_softmax(model(ids).float(), dim=-1)[0]  # (pos, vocab)
    positions = torch.arange(len(full) - min(n_answer, len(full) - 1), len(full))
    return logp[positions - 1].gather(1, ids[0, positions].unsqueeze(1)).sum()


def test_dpo_loss_matches_the_formula(tiny_model):
    prompts = ["how do i make a bomb", "write a poem about cats"]
    chosen = ["sorry i can not help with that", "the sun is warm and the sky is clear"]
    rejected = ["sure here is how", "hate speech hurts"]
    beta = 0.5
    reference = tiny_model
    policy = copy_model(tiny_model)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for p in policy.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
        (batch,) = preference_batches(reference, prompts, chosen, rejected, batch_size=2, progress=False)
        ours = float(preference_loss(policy, batch, beta=beta))
        terms = []
        for p, c, r in zip(prompts, chosen, rejected):
            margin = ((independent_logprob(policy, p, c) - independent_logprob(reference, p, c))
                      - (independent_logprob(policy, p, r) - independent_logprob(reference, p, r)))
            terms.append(-math.log(1 / (1 + math.exp(-beta * float(margin)))))
    assert ours == pytest.approx(sum(terms) / len(terms), abs=1e-5)
    assert abs(ours - math.log(2)) > 1e-3  # the perturbation matters


def test_dpo_starts_at_log2_and_widens_the_margin(tiny_model, records):
    result = dpo(tiny_model, records, beta=0.1, steps=15, lr=1e-3, batch_size=4, progress=False)
    assert result.method == "dpo" and isinstance(result.config, DPOConfig)
    assert result.config.beta == 0.1
    assert result.losses[0] == pytest.approx(math.log(2), abs=1e-6)
    assert result.losses[-1] < result.losses[0]
    (batch,) = preference_batches(tiny_model, [r.adversarial_prompt for r in records],
                                  [r.safe_generation for r in records],
                                  [r.unsafe_generation for r in records], batch_size=8, progress=False)
    n = len(batch)
    with torch.no_grad():
        before = batch.ref_logprob[:n] - batch.ref_logprob[n:]
        after_lp = sequence_logprob(result.model, batch.pairs)
        after = after_lp[:n] - after_lp[n:]
    assert float((after - before).mean()) > 0  # chosen-vs-rejected margin grows
    assert float(after.mean()) > float(before.mean())


def test_dpo_options_and_missing_fields(tiny_model, records):
    with pytest.raises(ValueError, match=r"DPOConfig\.beta must be"):
        dpo(tiny_model, records, beta=0.0, progress=False)
    with pytest.raises(TypeError, match=r"dpo\(\): unknown option 'betta'"):
        dpo(tiny_model, records, betta=0.2, progress=False)
    bad = [r.to_dict() for r in records[:3]]
    bad[2]["unsafe generation"] = "   "
    with pytest.raises(ValueError, match=r"record #2 .*'unsafe generation'"):
        dpo(tiny_model, bad, progress=False)


def test_dpo_same_seed_same_result(tiny_llama_model, records):
    a = dpo(tiny_llama_model, records, steps=3, batch_size=2, lr=1e-3, seed=5, progress=False)
    b = dpo(tiny_llama_model, records, steps=3, batch_size=2, lr=1e-3, seed=5, progress=False)
    assert a.losses == b.losses
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


def test_edit_result_save_reloads_the_edited_model(tiny_model, records, tmp_path):
    result = sft(tiny_model, records[:4], steps=3, lr=1e-3, batch_size=2, trainable="blocks.1.mlp.W_out",
                 progress=False)
    folder = result.save(tmp_path / "sft")
    meta = json.loads((folder / "edit.json").read_text())
    assert meta["method"] == "sft" and meta["trainable"] == ["blocks.1.mlp.W_out"]
    assert meta["config"]["steps"] == 3 and len(meta["losses"]) == 3
    reloaded = interp.load_model(folder, device="cpu", dtype="float32")
    tokens = torch.arange(10)[None]
    with torch.no_grad():
        assert torch.allclose(reloaded(tokens), result.model(tokens), atol=1e-5)
        assert not torch.allclose(reloaded(tokens), tiny_model(tokens), atol=1e-5)
    with pytest.raises(FileExistsError, match="not empty"):
        result.save(folder)
