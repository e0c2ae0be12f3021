"""inference_layout: same outputs bitwise, parameters restored, trainable afterwards."""

import pytest
import torch

from interp.layout import inference_layout


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_llama_model"])
def test_outputs_bitwise_identical_and_params_restored(fixture, request):
    model = request.getfixturevalue(fixture)
    tokens = torch.randint(0, model.cfg.d_vocab, (2, 7), generator=torch.Generator().manual_seed(0))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    ids = {n: id(p) for n, p in model.named_parameters()}
    with torch.inference_mode():
        ref = model(tokens)
        with inference_layout(model):
            assert any(not p.is_contiguous() for p in model.parameters())
            out = model(tokens)
    assert torch.equal(ref, out)
    for n, p in model.named_parameters():
        assert p.is_contiguous(), n
        assert id(p) == ids[n]
        assert torch.equal(p, before[n]), n


def test_restored_after_error_and_trainable(tiny_llama_model):
    model = tiny_llama_model
    with pytest.raises(RuntimeError, match="boom"), torch.inference_mode(), inference_layout(model):
        raise RuntimeError("boom")
    assert all(p.is_contiguous() for p in model.parameters())
    # parameters were re-made outside inference mode: backward still works
    loss = model(torch.tensor([[1, 2, 3]]), return_type="loss")
    loss.backward()
    assert model.unembed.W_U.grad is not None
    model.zero_grad(set_to_none=True)
