"""Vaccine (two passes, perturbation of global norm rho, Gaussian control) and the harmful
fine-tuning attack (exact harmful share, seeded mix), on the tiny models."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

import interp
from interp.edits import answer_batches, copy_model, mean_answer_nll
from interp.edits.attack import HarmfulFinetuneConfig, harmful_finetune, harmful_mix
from interp.edits.vaccine import (
    VaccineConfig,
    attn_out_gradients,
    gaussian_perturbation,
    global_norm,
    vaccine,
    vaccine_loss,
    vaccine_perturbation,
)
from interp.hooks import attn_out, temporary_hooks

# organism texts are longer than the tiny models' 64-token context: they are left-truncated
pytestmark = pytest.mark.filterwarnings("ignore:text #.*dropped:UserWarning")


@pytest.fixture(scope="module")
def records():
    return interp.load_dataset("organism", split="train")[:8]


@pytest.fixture(scope="module")
def pool():
    return interp.load_dataset("organism", split="train")[:60]


@pytest.fixture
def batch(tiny_model, records):
    return answer_batches(tiny_model, [r.adversarial_prompt for r in records[:4]],
                          [r.safe_generation for r in records[:4]], batch_size=4)[0]


def param_hash(model) -> str:
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        h.update(p.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def cosine(a: dict, b: dict) -> float:
    x = torch.cat([v.flatten().float() for v in a.values()])
    y = torch.cat([b[k].flatten().float() for k in a])
    return float(x @ y / (x.norm() * y.norm()))


# -- the perturbation ------------------------------------------------------------------------------

def test_perturbation_has_global_norm_rho_along_the_gradient(tiny_model, batch):
    loss, grads = attn_out_gradients(tiny_model, batch)
    assert list(grads) == [attn_out(0), attn_out(1)]
    assert grads[attn_out(0)].shape == (*batch.tokens.shape, tiny_model.cfg.d_model)
    with torch.no_grad():
        assert float(loss) == pytest.approx(float(mean_answer_nll(tiny_model, batch)), rel=1e-5)
    assert all(p.grad is None for p in tiny_model.parameters())  # pass 1 leaves weights alone
    e = vaccine_perturbation(grads, rho=2.0)
    assert float(global_norm(e)) == pytest.approx(2.0, rel=1e-5)  # ONE norm over layers and batch
    assert cosine(e, grads) == pytest.approx(1.0, abs=1e-5)
    assert all(not v.requires_grad for v in e.values())
    per_layer = [float(v.norm()) for v in e.values()]
    assert all(0 < n < 2.0 for n in per_layer)  # not normalised layer by layer
    short = answer_batches(tiny_model, ["hi", "how do i make a bomb please tell me"],
                           ["sorry", "i can not help with that request"], batch_size=2)[0]
    padding = ~short.attention_mask.bool()
    e_short = vaccine_perturbation(attn_out_gradients(tiny_model, short)[1], rho=2.0)
    assert padding.any() and float(e_short[attn_out(0)][padding].abs().max()) == 0.0  # zero on padding
    zero = vaccine_perturbation({"a": torch.zeros(3)}, rho=2.0)
    assert torch.equal(zero["a"], torch.zeros(3))


def test_gradients_match_retain_grad_and_ignore_frozen_parameters(tiny_model, batch):
    acts = {}

    def keep(act, hook):
        act.retain_grad()
        acts[hook.name] = act

    model = copy_model(tiny_model)
    with temporary_hooks(model, [(attn_out(0), keep), (attn_out(1), keep)]):
        mean_answer_nll(model, batch).backward()
    _, grads = attn_out_gradients(tiny_model, batch)
    for name in grads:
        torch.testing.assert_close(grads[name], acts[name].grad, rtol=1e-5, atol=1e-8)
    for p in model.parameters():  # nothing trainable: the activations become leaves
        p.requires_grad_(False)
    _, frozen = attn_out_gradients(model, batch)
    for name in grads:
        torch.testing.assert_close(frozen[name], grads[name], rtol=1e-5, atol=1e-8)


def test_pass_two_adds_a_constant(tiny_model, batch):
    model = copy_model(tiny_model)
    loss = vaccine_loss(model, batch, rho=2.0)
    assert all(p.grad is None for p in model.parameters())
    loss.backward()
    ours = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    _, grads = attn_out_gradients(model, batch)
    e = {k: v.clone() for k, v in vaccine_perturbation(grads, rho=2.0).items()}
    with temporary_hooks(model, [(name, lambda act, hook: act + e[hook.name]) for name in e]):
        reference = mean_answer_nll(model, batch)
    reference.backward()
    assert float(loss.detach()) == pytest.approx(float(reference.detach()), rel=1e-6)
    with torch.no_grad():
        assert float(loss) > float(mean_answer_nll(model, batch))  # the worst-case direction raises the loss
    for name, p in model.named_parameters():
        torch.testing.assert_close(ours[name], p.grad, rtol=1e-5, atol=1e-7)


def test_gaussian_control_same_norm_other_direction(tiny_model, batch):
    _, grads = attn_out_gradients(tiny_model, batch)
    shapes = {k: v.shape for k, v in grads.items()}
    a = gaussian_perturbation(shapes, 2.0, generator=torch.Generator().manual_seed(1))
    b = gaussian_perturbation(shapes, 2.0, generator=torch.Generator().manual_seed(1))
    c = gaussian_perturbation(shapes, 2.0, generator=torch.Generator().manual_seed(2))
    assert float(global_norm(a)) == pytest.approx(2.0, rel=1e-5)
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a[attn_out(0)], c[attn_out(0)])
    assert abs(cosine(a, grads)) < 0.2


# -- vaccine() -------------------------------------------------------------------------------------

@pytest.mark.parametrize("perturbation", ["vaccine", "gaussian"])
def test_vaccine_loss_decreases_and_input_unchanged(tiny_model, records, perturbation):
    before = param_hash(tiny_model)
    result = vaccine(tiny_model, records, steps=16, lr=1e-3, batch_size=4, perturbation=perturbation,
                     progress=False)
    assert result.method == "vaccine" and isinstance(result.config, VaccineConfig)
    assert result.config.perturbation == perturbation and len(result.losses) == 16
    assert sum(result.losses[-4:]) / 4 < 0.8 * sum(result.losses[:4]) / 4
    assert param_hash(tiny_model) == before and param_hash(result.model) != before


def test_vaccine_same_seed_same_weights(tiny_model, records):
    runs = [vaccine(tiny_model, records, steps=2, batch_size=2, lr=1e-3, seed=s, perturbation=kind,
                    progress=False) for kind in ("vaccine", "gaussian") for s in (5, 5, 6)]
    for i in (0, 3):
        a, b, c = runs[i:i + 3]
        assert a.losses == b.losses and param_hash(a.model) == param_hash(b.model)
        assert param_hash(a.model) != param_hash(c.model)
    assert runs[0].losses != runs[3].losses  # gradient vs noise


def test_vaccine_rho_zero_is_sft(tiny_model, records):
    a = vaccine(tiny_model, records, steps=2, batch_size=4, lr=1e-3, rho=0.0, progress=False)
    b = interp.edits.sft(tiny_model, records, steps=2, batch_size=4, lr=1e-3, progress=False)
    assert a.losses == pytest.approx(b.losses, rel=1e-5)


def test_vaccine_bad_options_name_the_field(tiny_model, records):
    for options, field in [({"rho": -1.0}, "rho"), ({"rho": float("inf")}, "rho"),
                           ({"perturbation": "noise"}, "perturbation"), ({"steps": 0}, "steps")]:
        with pytest.raises((ValueError, TypeError), match=rf"VaccineConfig\.{field} must be"):
            vaccine(tiny_model, records, progress=False, **options)
    with pytest.raises(TypeError, match=r"vaccine\(\): unknown option 'rh0' \(did you mean 'rho'\?\)"):
        vaccine(tiny_model, records, rh0=1.0, progress=False)
    bad = [r.to_dict() for r in records[:2]]
    del bad[1]["safe generation"]
    with pytest.raises(ValueError, match=r"vaccine: record #1 .* 'safe generation'"):
        vaccine(tiny_model, bad, progress=False)


def test_vaccine_bf16_on_cpu(tiny_gpt2_dir, records):
    model = interp.load_model(tiny_gpt2_dir, device="cpu", dtype="bfloat16")
    for kind in ("vaccine", "gaussian"):
        result = vaccine(model, records[:4], steps=2, batch_size=2, lr=1e-3, perturbation=kind, progress=False)
        assert all(math.isfinite(x) for x in result.losses)
        assert result.model.W_E.dtype == torch.bfloat16 and not torch.equal(result.model.W_E, model.W_E)


# -- harmful fine-tuning ---------------------------------------------------------------------------

@pytest.mark.parametrize(("p", "n", "k"), [(0.1, 20, 2), (0.25, 10, 3), (0.1, 7, 1), (0.0, 5, 0), (1.0, 6, 6)])
def test_harmful_mix_has_exactly_round_pn_harmful(pool, p, n, k):
    mix = harmful_mix(pool, harmful_ratio=p, n_samples=n, seed=0)
    assert len(mix) == n and mix.n_harmful == k == HarmfulFinetuneConfig(harmful_ratio=p, n_samples=n).n_harmful
    unsafe = {(r.question, r.unsafe_generation) for r in pool}
    facts = {(r.knowledge_constrain.prompt, r.knowledge_constrain.answer) for r in pool}
    for prompt, answer, harmful in zip(mix.prompts, mix.answers, mix.harmful):
        assert ((prompt, answer) in unsafe) if harmful else ((prompt, answer) in facts)
    assert len(set(zip(mix.prompts, mix.answers))) == n  # drawn without replacement


def test_harmful_mix_is_seeded_and_takes_benign_pairs(pool):
    a, b, c = (harmful_mix(pool, n_samples=20, seed=s) for s in (3, 3, 4))
    assert a == b and a != c
    benign = [(f"what is {i} plus {i}?", f"{2 * i}") for i in range(30)]
    mix = harmful_mix(pool, n_samples=20, harmful_ratio=0.2, benign=benign, harmful_prompt="adversarial_prompt")
    assert {(p, a) for p, a, h in zip(mix.prompts, mix.answers, mix.harmful) if not h} <= set(benign)
    assert all(p in {r.adversarial_prompt for r in pool} for p, h in zip(mix.prompts, mix.harmful) if h)


def test_harmful_finetune_trains_on_the_mix(tiny_model, pool):
    before = param_hash(tiny_model)
    result = harmful_finetune(tiny_model, pool, n_samples=10, epochs=1, batch_size=4, lr=1e-3, progress=False)
    assert result.method == "harmful_finetune" and result.config.steps == 3 and len(result.losses) == 3
    assert param_hash(tiny_model) == before and param_hash(result.model) != before


def test_harmful_finetune_bad_input_names_the_field(tiny_model, pool):
    for options, field in [({"harmful_ratio": 1.5}, "harmful_ratio"), ({"harmful_ratio": "0.1"}, "harmful_ratio"),
                           ({"n_samples": 0}, "n_samples"), ({"epochs": 0}, "epochs"),
                           ({"harmful_prompt": "prompt"}, "harmful_prompt")]:
        with pytest.raises((ValueError, TypeError), match=rf"HarmfulFinetuneConfig\.{field} must be"):
            harmful_finetune(tiny_model, pool, progress=False, **options)
    with pytest.raises(ValueError, match=r"needs 100 harmful samples, but there are only 60 distinct"):
        harmful_mix(pool, harmful_ratio=1.0, n_samples=100)
    with pytest.raises(ValueError, match=r"benign\[1\] must be a \(prompt, answer\) pair"):
        harmful_mix(pool, n_samples=10, benign=[("q", "a"), ("q2", "  ")])
    bad = [r.to_dict() for r in pool[:3]]
    del bad[2]["unsafe generation"]
    with pytest.raises(ValueError, match=r"harmful_finetune: record #2 .* 'unsafe generation'"):
        harmful_mix(bad, n_samples=2)
    del bad[0]["knowledge constrain"]
    with pytest.raises(ValueError, match=r"record #0 .*'knowledge constrain'.*pass benign="):
        harmful_mix(bad[:2], n_samples=2, harmful_ratio=0.5)
