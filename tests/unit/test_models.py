"""interp.models: loading local HF folders, dtypes, chat format, tokenisation, clear errors."""

from __future__ import annotations

import copy
import json
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import AutoModelForCausalLM

import interp
from interp import models
from interp.models import load as load_module
from interp.models import (
    Tokenized,
    chat_prompt,
    chat_sequence,
    default_device,
    load_model,
    resolve_dtype,
    tokenize,
)

ARCHS = ["tiny_gpt2_dir", "tiny_llama_dir", "tiny_mistral_dir"]


def _hf_mlp_out_weight(hf, layer: int) -> torch.Tensor:
    """HF matrix that TransformerLens calls blocks.{layer}.mlp.W_out, as [d_mlp, d_model]."""
    if hf.config.model_type == "gpt2":
        return hf.transformer.h[layer].mlp.c_proj.weight  # Conv1D: already [d_mlp, d_model]
    return hf.model.layers[layer].mlp.down_proj.weight.T


# --- loading local folders -----------------------------------------------------------------


@pytest.mark.parametrize("folder", ARCHS)
def test_logits_equal_hf(folder, request):
    path = request.getfixturevalue(folder)
    hf = AutoModelForCausalLM.from_pretrained(path).eval()
    model = load_model(path, device="cpu")
    tokens = torch.randint(0, model.cfg.d_vocab, (3, 40))
    with torch.no_grad():
        expected = hf(tokens).logits
        got = model(tokens)
    assert expected.std() > 0.5  # random weights are scaled up: a non-trivial comparison
    assert (got - expected).abs().max().item() < 1e-4


@pytest.mark.parametrize("folder", ARCHS)
def test_weights_are_unprocessed(folder, request):
    """DINM edits W_out: it must be exactly HF's matrix (no folding or centring)."""
    path = request.getfixturevalue(folder)
    hf = AutoModelForCausalLM.from_pretrained(path)
    model = load_model(path, device="cpu")
    for layer in range(model.cfg.n_layers):
        assert torch.equal(model.blocks[layer].mlp.W_out, _hf_mlp_out_weight(hf, layer))
    assert not torch.allclose(model.blocks[0].ln1.w, torch.ones_like(model.blocks[0].ln1.w))


@pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated")
def test_same_weights_as_load_and_process_state_dict(tiny_llama_dir):
    """Our one-shot load equals TransformerLens's per-key load with every processing flag off."""
    from transformer_lens import HookedTransformer
    from transformer_lens.pretrained.weight_conversions import convert_llama_weights

    model = load_model(tiny_llama_dir, device="cpu")
    hf = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    reference = HookedTransformer(copy.deepcopy(model.cfg))
    reference.load_and_process_state_dict(
        convert_llama_weights(hf, reference.cfg), fold_ln=False, center_writing_weights=False,
        center_unembed=False, fold_value_biases=False)
    ours, theirs = model.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_gpt2_config_and_tokenizer(tiny_model):
    cfg = tiny_model.cfg
    assert (cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.n_ctx) == (2, 32, 4, 64)
    assert cfg.d_vocab == len(tiny_model.tokenizer) == 320
    assert cfg.normalization_type == "LN" and cfg.positional_embedding_type == "standard"
    assert cfg.default_prepend_bos is False and cfg.tokenizer_prepends_bos is False
    assert cfg.device == "cpu" and cfg.dtype == torch.float32
    assert not tiny_model.training
    tok = tiny_model.tokenizer
    assert tok.padding_side == "left"
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<|bos|>", "<|end|>", "<|pad|>")
    assert tiny_model.blocks[0].mlp.W_out.shape == (128, 32)  # [d_mlp, d_model]


def test_llama_config(tiny_llama_model):
    cfg = tiny_llama_model.cfg
    assert cfg.normalization_type == "RMS" and cfg.final_rms and cfg.gated_mlp
    assert cfg.positional_embedding_type == "rotary" and cfg.rotary_dim == cfg.d_head == 8
    assert cfg.rotary_base == 10000.0 and cfg.n_key_value_heads == 2
    assert cfg.act_fn == "silu" and cfg.original_architecture == "LlamaForCausalLM"
    # tied HF embeddings: TransformerLens keeps two copies, equal at load time
    assert torch.equal(tiny_llama_model.W_U, tiny_llama_model.W_E.T)


def test_pad_token_falls_back_to_eos(tmp_path, tiny_gpt2_dir):
    folder = shutil.copytree(tiny_gpt2_dir, tmp_path / "nopad")
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        file = folder / name
        if file.exists():
            data = json.loads(file.read_text())
            data.pop("pad_token", None)
            file.write_text(json.dumps(data))
    model = load_model(folder, device="cpu")
    assert model.tokenizer.pad_token == "<|end|>"


def test_accepts_str_path_and_dtype_strings(tiny_gpt2_dir):
    model = load_model(str(tiny_gpt2_dir), device="cpu", dtype="bf16")
    assert model.cfg.dtype == torch.bfloat16
    assert model.W_E.dtype == torch.bfloat16


def test_resolve_dtype():
    assert resolve_dtype(None, "cpu") == torch.float32
    assert resolve_dtype(None, "cuda:0") == torch.bfloat16
    assert resolve_dtype("float32", "cuda") == torch.float32
    assert resolve_dtype("BF16", "cpu") == torch.bfloat16
    assert resolve_dtype(torch.float16, "cpu") == torch.float16
    with pytest.raises(ValueError, match="dtype must be"):
        resolve_dtype("int8", "cpu")


def test_default_device():
    assert default_device() == ("cuda" if torch.cuda.is_available() else "cpu")


# --- errors --------------------------------------------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model("./no/such/folder")


def test_folder_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_model(tmp_path)


def test_unknown_model_type(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt_neox"}))
    with pytest.raises(ValueError, match=r"gpt_neox.*supported: \['gpt2', 'llama', 'mistral'\]"):
        load_model(tmp_path)


def test_missing_organism_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setattr(load_module, "organism_dir", lambda: tmp_path / "weights")
    with pytest.raises(FileNotFoundError, match="interp organism train"):
        load_model("organism")


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown model 'definitely-not-a-model'"):
        load_model("definitely-not-a-model")


def test_official_name_without_hub(monkeypatch):
    from transformer_lens import HookedTransformer

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(HookedTransformer, "from_pretrained_no_processing", offline)
    with pytest.raises(OSError, match="hub is unreachable.*local folder"):
        load_model("gpt2", device="cpu")


def test_unsupported_rope_scaling(tmp_path, tiny_llama_dir):
    folder = shutil.copytree(tiny_llama_dir, tmp_path / "yarn")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["rope_scaling"] = {"rope_type": "yarn", "factor": 2.0}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="rope type 'yarn' is not supported"):
        load_model(folder, device="cpu")


# --- chat format ---------------------------------------------------------------------------


def test_chat_prompt(tiny_model):
    assert chat_prompt(tiny_model, "hi") == "<|bos|><|user|>hi<|assistant|>"
    assert chat_prompt(tiny_model, "hi", system="be kind") == "<|bos|>be kind<|user|>hi<|assistant|>"


def test_chat_sequence(tiny_model):
    text = chat_sequence(tiny_model, "hi", "hello there")
    assert text == "<|bos|><|user|>hi<|assistant|>hello there<|end|>"
    ids = tokenize(tiny_model, [text]).tokens[0].tolist()
    tok = tiny_model.tokenizer
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert ids.count(tok.bos_token_id) == 1  # the template's BOS only, none added


def test_chat_prompt_without_template(tiny_model):
    tokenizer = copy.deepcopy(tiny_model.tokenizer)
    tokenizer.chat_template = None
    stub = SimpleNamespace(tokenizer=tokenizer, cfg=SimpleNamespace(model_name="stub"))
    with pytest.raises(ValueError, match="'stub' has no chat template"):
        chat_prompt(stub, "hi")


def test_model_without_tokenizer():
    stub = SimpleNamespace(tokenizer=None, cfg=SimpleNamespace(model_name="bare"))
    with pytest.raises(ValueError, match="'bare' has no tokenizer"):
        chat_prompt(stub, "hi")
    with pytest.raises(ValueError, match="no tokenizer"):
        tokenize(stub, ["hi"])


# --- tokenize ------------------------------------------------------------------------------


def _ids(model, text: str) -> list[int]:
    return model.tokenizer(text, add_special_tokens=False)["input_ids"]


def test_tokenize_left_padding(tiny_model):
    texts = ["the quick brown fox jumps", "hello"]
    out = tokenize(tiny_model, texts)
    assert isinstance(out, Tokenized)
    long, short = _ids(tiny_model, texts[0]), _ids(tiny_model, texts[1])
    pad = tiny_model.tokenizer.pad_token_id
    n = len(long) - len(short)
    assert out.tokens.shape == out.attention_mask.shape == (2, len(long))
    assert out.tokens.dtype == out.attention_mask.dtype == torch.long
    assert out.tokens.device.type == "cpu"
    assert out.tokens[0].tolist() == long and out.attention_mask[0].tolist() == [1] * len(long)
    assert out.tokens[1].tolist() == [pad] * n + short
    assert out.attention_mask[1].tolist() == [0] * n + [1] * len(short)


def test_tokenize_right_padding(tiny_model):
    texts = ["hello", "the quick brown fox jumps"]
    out = tokenize(tiny_model, texts, padding_side="right")
    short = _ids(tiny_model, texts[0])
    n = out.tokens.shape[1] - len(short)
    assert out.tokens[0].tolist() == short + [tiny_model.tokenizer.pad_token_id] * n
    assert out.attention_mask[0].tolist() == [1] * len(short) + [0] * n


def test_tokenize_single_string_adds_no_special_tokens(tiny_model):
    out = tokenize(tiny_model, "hello world")
    assert out.tokens.shape[0] == 1
    assert out.tokens[0].tolist() == _ids(tiny_model, "hello world")
    assert tiny_model.tokenizer.bos_token_id not in out.tokens[0].tolist()


def test_left_padded_last_token_logits_match_unpadded(tiny_model):
    """Left padding + attention_mask gives the same last-position logits as no padding."""
    texts = ["the quick brown fox jumps over the lazy dog", "hello world"]
    batch = tokenize(tiny_model, texts)
    with torch.no_grad():
        padded = tiny_model(batch.tokens, attention_mask=batch.attention_mask)[:, -1]
        alone = tiny_model(tokenize(tiny_model, texts[1]).tokens)[:, -1]
    assert torch.allclose(padded[1], alone[0], atol=1e-4)


def test_tokenize_truncates_from_the_left_with_one_warning(tiny_model):
    texts = ["hello", "the quick brown fox jumps over the lazy dog",
             "people should be kind to each other", "write a poem about cats"]
    lengths = [len(_ids(tiny_model, t)) for t in texts]
    with pytest.warns(UserWarning) as record:
        out = tokenize(tiny_model, texts, max_length=5)
    assert len(record) == 1
    longest = max(range(4), key=lambda i: lengths[i])
    message = str(record[0].message)
    assert f"text #{longest} (and 2 others)" in message
    assert f"dropped {lengths[longest] - 5} tokens from the left" in message
    assert out.tokens.shape == (4, 5)
    assert out.tokens[longest].tolist() == _ids(tiny_model, texts[longest])[-5:]


def test_tokenize_default_max_length_is_n_ctx(tiny_model):
    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 12)
    n = len(_ids(tiny_model, text))
    assert n > tiny_model.cfg.n_ctx
    with pytest.warns(UserWarning, match=rf"text #0 longer than the model's context \(n_ctx=64\): "
                                         rf"dropped {n - 64} tokens"):
        out = tokenize(tiny_model, [text])
    assert out.tokens.shape == (1, 64)


def test_tokenize_no_warning_when_it_fits(tiny_model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenize(tiny_model, ["hello", "world"])


@pytest.mark.parametrize(
    ("texts", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "texts is empty"),
        (["hello", ""], {}, ValueError, "text #1 is an empty string"),
        (["hello", 3], {}, TypeError, r"texts\[1\] must be a str"),
        (["hello"], {"padding_side": "middle"}, ValueError, "padding_side"),
        (["hello"], {"max_length": 0}, ValueError, "max_length must be a positive int"),
    ],
)
def test_tokenize_errors(tiny_model, texts, kwargs, error, match):
    with pytest.raises(error, match=match):
        tokenize(tiny_model, texts, **kwargs)


def test_organism_dir_is_package_data():
    assert models.organism_dir() == Path(interp.__file__).parent / "organism" / "weights"


def test_folder_without_tokenizer(tmp_path, tiny_gpt2_dir):
    folder = tmp_path / "notok"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_gpt2_dir / name, folder / name)
    with pytest.raises(FileNotFoundError, match="could not load a tokenizer"):
        load_model(folder, device="cpu")


def test_tokenizer_larger_than_vocab(tmp_path, tiny_gpt2_dir):
    folder = shutil.copytree(tiny_gpt2_dir, tmp_path / "small_vocab")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["vocab_size"] = 100
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="320 tokens but the model's vocab_size is 100"):
        load_model(folder, device="cpu")


def test_n_devices_one_is_the_plain_model_and_more_needs_that_many_gpus(tiny_gpt2_dir):
    model = load_model(tiny_gpt2_dir, device="cpu", n_devices=1)
    assert model.cfg.n_devices == 1
    with pytest.raises(ValueError, match="device must be 'cuda'"):
        load_model(tiny_gpt2_dir, device="cpu", n_devices=2)
    with pytest.raises(ValueError, match="n_devices must be a positive int"):
        load_model(tiny_gpt2_dir, device="cpu", n_devices=0)
    if torch.cuda.device_count() < 2:
        with pytest.raises(ValueError, match="CUDA device"):
            load_model(tiny_gpt2_dir, device="cuda", n_devices=2)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_n_devices_splits_blocks_and_generates(tiny_gpt2_dir):  # pragma: no cover - no GPUs in CI
    model = load_model(tiny_gpt2_dir, device="cuda", n_devices=2, dtype="float32")
    devices = {str(b.mlp.W_out.device) for b in model.blocks}
    assert devices == {"cuda:0", "cuda:1"}
    reference = load_model(tiny_gpt2_dir, device="cpu")
    prompts = ["hello world", "the quick brown fox"]
    assert interp.generate(model, prompts, max_new_tokens=5, progress=False) == \
        interp.generate(reference, prompts, max_new_tokens=5, progress=False)
