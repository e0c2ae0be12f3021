"""DINM on the tiny model: only the located layer's W_out changes, the KL's gradient, errors."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.edits import dinm, dinm_batch, dinm_loss

pytestmark = pytest.mark.filterwarnings("ignore:text #.*dropped:UserWarning")


@pytest.fixture(scope="module")
def record():
    return interp.load_dataset("organism", split="test")[0]


def test_dinm_changes_only_the_located_w_out(tiny_model, record):
    before = {n: p.detach().clone() for n, p in tiny_model.named_parameters()}
    result = dinm(tiny_model, record, steps=3, lr=1e-2, progress=False)
    name = result.region.tl_name
    assert result.trainable == [name] and result.method == "dinm" and len(result.losses) == 3
    assert result.details["localization"].layer == result.region.layer
    for n, p in result.model.named_parameters():
        assert torch.equal(p, before[n]) != (n == name), n
    for n, p in tiny_model.named_parameters():  # the input model is untouched
        assert torch.equal(p, before[n]), n
    assert "localization" in result.to_dict()["details"]


def test_dinm_given_layer_and_seed_reproducible(tiny_model, record):
    a = dinm(tiny_model, record, steps=2, lr=1e-2, layer=0, progress=False)
    b = dinm(tiny_model, record, steps=2, lr=1e-2, layer=0, progress=False)
    assert a.trainable == ["blocks.0.mlp.W_out"] and a.details["localization"] is None
    assert torch.equal(a.model.blocks[0].mlp.W_out, b.model.blocks[0].mlp.W_out)


def test_kl_grad_is_what_differs_from_easyedit(tiny_model, record):
    batch = dinm_batch(tiny_model, record)
    assert batch.edit_mask[0].any() and not batch.edit_mask[1].any()
    assert batch.kl_mask[1].any() and not batch.kl_mask[0].any()
    edited = interp.edits.copy_model(tiny_model)
    with torch.no_grad():
        edited.blocks[1].mlp.W_out.add_(0.05 * torch.randn_like(edited.blocks[1].mlp.W_out))
    w = edited.blocks[1].mlp.W_out
    grads = {}
    for kl_grad in (True, False):
        w.requires_grad_(True)
        w.grad = None
        loss = dinm_loss(edited, batch, c_edit=0.1, kl_grad=kl_grad)
        loss.backward()
        grads[kl_grad] = w.grad.clone()
    only_edit = grads[False]
    w.grad = None
    assert not torch.allclose(grads[True], only_edit)
    # at the original weights the KL is 0
    with torch.no_grad():
        assert float(dinm_loss(tiny_model, batch, c_edit=1.0, kl_grad=True)) == pytest.approx(
            float(dinm_loss(tiny_model, batch, c_edit=1.0, kl_grad=False)))


def test_dinm_errors(tiny_model, record):
    with pytest.raises(TypeError, match="ONE record"):
        dinm(tiny_model, [record, record], progress=False)
    with pytest.raises(ValueError, match="knowledge constrain"):
        dinm(tiny_model, {"id": 1, "adversarial prompt": "q", "safe generation": "a"}, progress=False)
    with pytest.raises(ValueError, match="layer=9"):
        dinm(tiny_model, record, layer=9, progress=False)
    with pytest.raises(TypeError, match="unknown option 'step'"):
        dinm(tiny_model, record, step=3, progress=False)



@pytest.mark.parametrize("arch", ["tiny_model", "tiny_llama_model"])
def test_cached_prefix_gives_the_full_forward_loss_and_gradient(arch, record, request):
    model = request.getfixturevalue(arch)
    for layer in range(model.cfg.n_layers):
        edited = interp.edits.copy_model(model)  # only this layer's W_out differs from the cached prefix
        w = edited.blocks[layer].mlp.W_out
        with torch.no_grad():
            w.add_(0.05 * torch.randn_like(w))  # off the original, so the KL and its gradient are not 0
        full, cached = dinm_batch(model, record), dinm_batch(model, record, layer=layer)
        assert full.layer is None and cached.layer == layer and cached.mlp_post is not None
        torch.testing.assert_close(cached.ref_logprobs, full.ref_logprobs)
        out = {}
        for name, batch in (("full", full), ("cached", cached)):
            w.requires_grad_(True)
            w.grad = None
            loss = dinm_loss(edited, batch, c_edit=0.1)
            loss.backward()
            out[name] = (loss.detach(), w.grad.clone())
            w.requires_grad_(False)
        torch.testing.assert_close(out["cached"][0], out["full"][0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out["cached"][1], out["full"][1], rtol=1e-4, atol=1e-7)
        assert out["full"][1].abs().sum() > 0


def test_dinm_runs_in_bfloat16_with_the_cached_prefix(tiny_gpt2_dir, record):
    model = interp.load_model(tiny_gpt2_dir, device="cpu", dtype="bfloat16")
    result = dinm(model, record, layer=1, steps=2, lr=1e-2, progress=False)
    w = result.model.blocks[1].mlp.W_out
    assert w.dtype == torch.bfloat16 and not torch.equal(w, model.blocks[1].mlp.W_out)
    assert all(torch.isfinite(torch.tensor(result.losses)))
