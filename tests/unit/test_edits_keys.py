"""scale_toxic_keys: exactly the top-k keys change, by exactly the factor; errors; organism behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from model_state import assert_unchanged, snapshot

from interp.edits.core import copy_model
from interp.edits.keys import ScaleToxicKeysConfig, scale_toxic_keys
from interp.edits.result import EditResult
from interp.hooks import block_param
from interp.models import organism_dir
from probes.linear import LinearProbe


def _unit(d_model: int, seed: int = 0) -> torch.Tensor:
    w = torch.randn(d_model, generator=torch.Generator().manual_seed(seed))
    return w / w.norm()


def _expected_top(model, w, k, layers=None):
    """Top-k (layer, neuron) by cos(W_out[layer][i], w), computed here without probes.scoring."""
    rows = []
    for layer in range(model.cfg.n_layers) if layers is None else layers:
        W = model.blocks[layer].mlp.W_out.detach().double()
        cos = (W @ w.double()) / (W.norm(dim=1) * w.double().norm())
        rows += [(float(c), layer, i) for i, c in enumerate(cos)]
    rows.sort(key=lambda r: -r[0])
    return [(layer, i) for _, layer, i in rows[:k]], [c for c, _, _ in rows[:k]]


def _check_only_keys_scaled(model, result, key: str, factor: float):
    neurons = result.details["neurons"]
    layers = sorted({layer for layer, _ in neurons})
    expected = [block_param(layer, "mlp", key) for layer in layers]
    assert result.trainable == expected
    original = dict(model.named_parameters())
    for name, p in result.model.named_parameters():
        if name not in result.trainable:
            assert torch.equal(p, original[name]), name
            continue
        layer = int(name.split(".")[1])
        cols = [i for l, i in neurons if l == layer]
        others = [i for i in range(p.shape[1]) if i not in cols]
        assert torch.equal(p[:, cols], original[name][:, cols] * factor), name
        assert torch.equal(p[:, others], original[name][:, others]), name
        nonzero = original[name][:, cols] != 0
        ratio = p[:, cols][nonzero] / original[name][:, cols][nonzero]
        assert torch.allclose(ratio, torch.full_like(ratio, factor)), name
    for (name, b), (_, b0) in zip(result.model.named_buffers(), model.named_buffers()):
        assert torch.equal(b, b0), name


def test_scales_exactly_the_top_k_keys(tiny_model):
    before = snapshot(tiny_model)
    w = _unit(tiny_model.cfg.d_model)
    result = scale_toxic_keys(tiny_model, w, k=5, factor=3.5, progress=False)
    expected, cosines = _expected_top(tiny_model, w, 5)
    assert list(result.details["neurons"]) == expected
    assert np.allclose(result.details["cosines"], cosines, atol=1e-6)
    _check_only_keys_scaled(tiny_model, result, "W_in", 3.5)
    assert_unchanged(tiny_model, before)
    assert isinstance(result, EditResult)
    assert result.method == "scale_toxic_keys" and result.losses == [] and result.steps == 0
    assert result.config == ScaleToxicKeysConfig(k=5, factor=3.5)
    assert result.config.name == "scale_toxic_keys" and result.seed == 0
    assert "scale_toxic_keys" in repr(result)


def test_default_is_the_papers_k7_factor10_and_probe_equals_direction(tiny_model):
    X = torch.randn(40, tiny_model.cfg.d_model, generator=torch.Generator().manual_seed(1))
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).long().numpy()
    probe = LinearProbe().fit(X.numpy(), y)
    result = scale_toxic_keys(tiny_model, probe, progress=False)
    assert (result.config.k, result.config.factor) == (7, 10.0) and len(result.details["neurons"]) == 7
    assert list(result.details["neurons"]) == _expected_top(tiny_model, probe.direction.float(), 7)[0]
    again = scale_toxic_keys(tiny_model, probe.direction * 4.0, progress=False)  # norm is irrelevant
    assert again.details["neurons"] == result.details["neurons"]
    _check_only_keys_scaled(tiny_model, result, "W_in", 10.0)


def test_layers_restrict_the_search(tiny_model):
    w = _unit(tiny_model.cfg.d_model, seed=2)
    result = scale_toxic_keys(tiny_model, w, k=4, layers=[1], progress=False)
    assert list(result.details["neurons"]) == _expected_top(tiny_model, w, 4, layers=[1])[0]
    assert result.trainable == ["blocks.1.mlp.W_in"] and result.config.layers == (1,)
    _check_only_keys_scaled(tiny_model, result, "W_in", 10.0)


@pytest.mark.parametrize(("gated_key", "key"), [("gate", "W_gate"), ("up", "W_in")])
def test_gated_mlp_key(tiny_llama_model, gated_key, key):
    w = _unit(tiny_llama_model.cfg.d_model, seed=3)
    result = scale_toxic_keys(tiny_llama_model, w, k=6, factor=-2.0, gated_key=gated_key,
                              progress=False)
    assert list(result.details["neurons"]) == _expected_top(tiny_llama_model, w, 6)[0]
    _check_only_keys_scaled(tiny_llama_model, result, key, -2.0)


def test_to_dict_and_save_record_the_neurons(tiny_model, tmp_path):
    result = scale_toxic_keys(tiny_model, _unit(tiny_model.cfg.d_model), k=3, progress=False)
    d = result.to_dict()
    neurons = [list(n) for n in result.details["neurons"]]
    assert d["details"]["neurons"] == result.details["neurons"] and len(d["details"]["cosines"]) == 3
    assert d["config"] == {"k": 3, "factor": 10.0, "layers": None, "gated_key": "gate"}
    assert ScaleToxicKeysConfig.from_dict(d["config"]) == result.config
    saved = json.loads((result.save(tmp_path / "keys") / "edit.json").read_text())
    assert saved["details"]["neurons"] == neurons and saved["method"] == "scale_toxic_keys"


def test_copy_goes_to_device_and_input_is_untouched_even_inside_inference_mode(tiny_model):
    before = snapshot(tiny_model)
    twin = copy_model(tiny_model)
    with torch.inference_mode():
        result = scale_toxic_keys(twin, _unit(tiny_model.cfg.d_model), k=2, device="cpu",
                                  progress=False)
    assert_unchanged(twin, before)
    assert str(result.model.cfg.device) == "cpu"


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"k": 0}, ValueError, r"ScaleToxicKeysConfig\.k must be an int >= 1, got 0"),
    ({"k": 2.0}, TypeError, r"ScaleToxicKeysConfig\.k must be an int"),
    ({"k": 257}, ValueError, r"k=257 but the 2 layer\(s\) searched hold only 256 neurons \(d_mlp=128\)"),
    ({"k": 129, "layers": [0]}, ValueError, r"hold only 128 neurons"),
    ({"factor": float("nan")}, ValueError, r"ScaleToxicKeysConfig\.factor must be a finite number, got nan"),
    ({"factor": float("inf")}, ValueError, r"factor must be a finite number, got inf"),
    ({"factor": "10"}, TypeError, r"factor must be a finite number, got '10'"),
    ({"layers": [2]}, ValueError, r"layers must be block indices in \[0, 1\] .*\(2 layers\), got 2"),
    ({"layers": []}, ValueError, r"ScaleToxicKeysConfig\.layers must be None \(all blocks\)"),
    ({"layers": [0, 0]}, ValueError, r"distinct block indices"),
    ({"layers": [-1]}, ValueError, r"ints >= 0"),
    ({"gated_key": "down"}, ValueError, r"gated_key must be one of \['gate', 'up'\]"),
])
def test_bad_options_name_the_field(tiny_model, options, error, match):
    with pytest.raises(error, match=match):
        scale_toxic_keys(tiny_model, _unit(tiny_model.cfg.d_model), progress=False, **options)


def test_bad_probe_names_the_expected_width(tiny_model):
    with pytest.raises(ValueError, match=r"d_model=7 but model .* has d_model=32"):
        scale_toxic_keys(tiny_model, torch.randn(7), progress=False)
    with pytest.raises(ValueError, match="must be 1-D"):
        scale_toxic_keys(tiny_model, torch.randn(2, 32), progress=False)
    with pytest.raises(ValueError, match="zero vector"):
        scale_toxic_keys(tiny_model, torch.zeros(32), progress=False)
    with pytest.raises(TypeError, match="LinearProbe or a 1-D tensor"):
        scale_toxic_keys(tiny_model, [0.0] * 32, progress=False)


# -- behaviour on the shipped organism ----------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not (organism_dir() / "model.safetensors").is_file(), reason="organism weights missing")
def test_organism_toxic_keys_raise_the_probe_score():
    """Lee et al.'s un-alignment on the organism: scaling the 7 most toxic keys by 10 raises the
    probe's toxicity score of every adversarial prompt; scaling the 7 most anti-toxic ones (the
    probe direction negated) lowers it. About 15 s (load, probe on 30 records)."""
    import interp
    from interp.activations import collect_from_texts
    from probes.train import train_toxicity_probe

    model = interp.load_model("organism", device="cpu", dtype="float32")
    probe = train_toxicity_probe(model, interp.load_dataset("organism", split="train")[::80],
                                 progress=False)
    prompts = [r.adversarial_prompt for r in interp.load_dataset("organism", split="test")[:16]]

    def score(m):
        feats = collect_from_texts(m, prompts, hook_names=[probe.hook], keep_first_position=False,
                                   progress=False)[probe.hook]
        return probe.decision_function(feats.numpy())

    base = score(model)
    toxic = score(scale_toxic_keys(model, probe, progress=False).model)
    anti = score(scale_toxic_keys(model, -probe.direction, progress=False).model)
    print(f"\nprobe score on {len(prompts)} prompts: {base.mean():.3f}; toxic keys x10 "
          f"{toxic.mean():.3f}; anti-toxic keys x10 {anti.mean():.3f}")
    assert (toxic > base).all() and toxic.mean() > base.mean() + 0.1
    assert (anti < base).all()
