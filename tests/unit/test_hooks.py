"""interp.hooks: hook-name helpers, early checks with near matches, scoped temporary hooks."""

from __future__ import annotations

import pytest
import torch

from interp.hooks import (
    attn_out,
    attn_scores,
    block_param,
    check_hook_names,
    layer_of,
    mlp_out,
    mlp_post,
    mlp_w_out,
    resid_mid,
    resid_post,
    resid_pre,
    temporary_hooks,
)
from interp.models import load_model

HELPERS = [resid_pre, resid_mid, resid_post, mlp_post, mlp_out, attn_out]


def _no_hooks_attached(model) -> bool:
    return not any(hp.fwd_hooks or hp.bwd_hooks for hp in model.hook_dict.values())


def test_helper_names():
    assert resid_pre(0) == "blocks.0.hook_resid_pre"
    assert resid_mid(1) == "blocks.1.hook_resid_mid"
    assert resid_post(2) == "blocks.2.hook_resid_post"
    assert mlp_post(3) == "blocks.3.mlp.hook_post"
    assert mlp_out(4) == "blocks.4.hook_mlp_out"
    assert attn_out(5) == "blocks.5.hook_attn_out"


@pytest.mark.parametrize("helper", HELPERS)
@pytest.mark.parametrize("model_fixture", ["tiny_model", "tiny_llama_model"])
def test_helper_names_exist_in_models(helper, model_fixture, request):
    model = request.getfixturevalue(model_fixture)
    names = [helper(layer) for layer in range(model.cfg.n_layers)]
    check_hook_names(model, names)
    assert [layer_of(name) for name in names] == list(range(model.cfg.n_layers))


@pytest.mark.parametrize("bad", [-1, 1.0, "2", True])
def test_helper_rejects_bad_layer(bad):
    with pytest.raises(ValueError, match="non-negative int"):
        resid_post(bad)


def test_layer_of():
    assert layer_of("blocks.12.attn.hook_pattern") == 12
    for name in ("hook_embed", "ln_final.hook_normalized", "blocks.x.hook_resid_post"):
        with pytest.raises(ValueError, match="no block index"):
            layer_of(name)


def test_check_hook_names_suggests_near_matches(tiny_model):
    with pytest.raises(KeyError) as info:
        check_hook_names(tiny_model, [resid_post(0), "blocks.1.hook_resid_pots"])
    message = str(info.value)
    assert "'blocks.1.hook_resid_pots'" in message
    assert f"model {tiny_model.cfg.model_name!r}" in message and "(2 layers)" in message
    assert resid_post(1) in message


def test_check_hook_names_layer_out_of_range(tiny_model):
    with pytest.raises(KeyError, match=r"blocks\.7\.hook_resid_post.*2 layers"):
        check_hook_names(tiny_model, [resid_post(7)])


def test_temporary_hooks_change_output_then_go(tiny_model):
    tokens = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        clean = tiny_model(tokens)
        seen = []

        def zero(act, hook):
            seen.append(hook.name)
            return torch.zeros_like(act)

        with temporary_hooks(tiny_model, [(mlp_out(0), zero), (mlp_out(1), zero)]) as m:
            assert m is tiny_model
            hooked = tiny_model(tokens)
        after = tiny_model(tokens)
    assert seen == [mlp_out(0), mlp_out(1)]
    assert not torch.allclose(hooked, clean)
    assert torch.equal(after, clean)
    assert _no_hooks_attached(tiny_model)


def test_hooks_removed_after_error(tiny_model):
    def boom(act, hook):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        with temporary_hooks(tiny_model, [(resid_post(0), boom)]):
            tiny_model(torch.tensor([[1, 2, 3]]))
    assert _no_hooks_attached(tiny_model)


def test_unknown_hook_attaches_nothing(tiny_model):
    def keep(act, hook):
        return act

    with pytest.raises(KeyError, match="unknown hook"):
        with temporary_hooks(tiny_model, [(resid_post(0), keep), ("blocks.0.hook_nope", keep)]):
            pass  # pragma: no cover
    assert _no_hooks_attached(tiny_model)


def test_bad_hook_pair(tiny_model):
    with pytest.raises(TypeError, match="pairs"):
        with temporary_hooks(tiny_model, [(resid_post(0), "not callable")]):
            pass  # pragma: no cover


def test_user_hooks_and_outer_contexts_survive(tiny_gpt2_dir):
    """Only the context's own hooks go: the user's and an outer context's stay (never reset_hooks)."""
    model = load_model(tiny_gpt2_dir, device="cpu")  # private copy: this test attaches hooks
    calls: list[str] = []

    def user_hook(act, hook):
        calls.append("user")

    def outer(act, hook):
        calls.append("outer")

    def inner(act, hook):
        calls.append("inner")

    model.add_hook(resid_pre(0), user_hook)
    tokens = torch.tensor([[1, 2, 3]])
    with torch.no_grad(), temporary_hooks(model, [(resid_pre(0), outer)]):
        with temporary_hooks(model, [(resid_pre(0), inner)]):
            model(tokens)
        assert calls == ["user", "outer", "inner"]
        calls.clear()
        model(tokens)
        assert calls == ["user", "outer"]
    calls.clear()
    model(tokens)
    assert calls == ["user"]


def test_backward_hooks(tiny_gpt2_dir):
    model = load_model(tiny_gpt2_dir, device="cpu")
    grads = []

    def record(grad, hook):
        grads.append(grad.detach().clone())

    tokens = torch.tensor([[1, 2, 3]])
    with temporary_hooks(model, [], bwd_hooks=[(attn_out(0), record)]):
        model(tokens).sum().backward()
    assert len(grads) == 1 and grads[0].shape == (1, 3, model.cfg.d_model)
    assert _no_hooks_attached(model)


def test_attn_scores_and_parameter_names():
    assert attn_scores(2) == "blocks.2.attn.hook_attn_scores"
    assert block_param(1, "attn", "W_O") == "blocks.1.attn.W_O"
    assert mlp_w_out(3) == "blocks.3.mlp.W_out" == block_param(3, "mlp", "W_out")
    with pytest.raises(ValueError, match="non-negative int"):
        mlp_w_out(-1)
    with pytest.raises(ValueError, match="module must be a non-empty str"):
        block_param(0, "", "W_out")


@pytest.mark.parametrize("model_fixture", ["tiny_model", "tiny_llama_model"])
def test_attn_scores_and_parameter_names_exist_in_models(model_fixture, request):
    model = request.getfixturevalue(model_fixture)
    layers = range(model.cfg.n_layers)
    check_hook_names(model, [attn_scores(layer) for layer in layers])
    params = dict(model.named_parameters())
    for layer in layers:
        assert params[mlp_w_out(layer)] is model.blocks[layer].mlp.W_out
        assert params[block_param(layer, "attn", "W_O")] is model.blocks[layer].attn.W_O
