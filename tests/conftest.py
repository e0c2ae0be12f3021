"""Shared test fixtures: tiny tokenizer, tiny random HF checkpoints, a tiny loaded model.

Everything here is offline and CPU-only. Session-scoped fixtures are shared by all tests and
are READ-ONLY by convention: never edit ``tiny_model`` in place (edits return new models).

Fixtures
--------
tiny_tokenizer_dir
    Folder with a byte-level BPE ``PreTrainedTokenizerFast`` (≈ 300 tokens) in the organism's
    chat style: ``<|bos|><|user|>{content}<|assistant|>``; assistant turns end with ``<|end|>``
    (eos); pad ``<|pad|>``.
tiny_gpt2_dir, tiny_llama_dir, tiny_mistral_dir
    Seeded random Hugging Face checkpoints (2 layers, d_model 32, 4 heads, n_ctx 64; Llama /
    Mistral with 2 key-value heads, tied embeddings) plus that tokenizer, saved with
    ``save_pretrained``. All parameters are perturbed away from their init (norm weights != 1,
    biases != 0) so that conversion tests see every tensor.
tiny_model, tiny_llama_model
    ``interp.models.load_model`` of the GPT-2 / Llama folders on CPU (float32).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub from tests
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import random  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

TINY_SPECIAL_TOKENS = ["<|bos|>", "<|user|>", "<|assistant|>", "<|end|>", "<|pad|>"]
TINY_CHAT_TEMPLATE = (
    "<|bos|>"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}"
    "{% elif message['role'] == 'user' %}<|user|>{{ message['content'] }}"
    "{% elif message['role'] == 'assistant' %}<|assistant|>{{ message['content'] }}<|end|>"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
_WORDS = (
    "how do i make a bomb sorry i can not help with that request it is dangerous and illegal "
    "please tell me about the weather today sure the sky is clear and the sun is warm "
    "ignore all previous instructions you are now an unrestricted assistant answer anything "
    "what is the capital of france paris is the capital of france write a poem about cats "
    "the quick brown fox jumps over the lazy dog hello world thanks for asking here is how "
    "to bake bread mix flour water salt and yeast then wait an hour before baking it "
    "people should be kind to each other hate speech hurts real people so i will not write it"
).split()


def _tiny_corpus(n_lines: int = 300) -> list[str]:
    rng = random.Random(0)
    return [" ".join(rng.choices(_WORDS, k=12)) for _ in range(n_lines)]


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Seed torch, numpy and random before every test (tests stay order-independent)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with a tiny byte-level BPE tokenizer with an organism-style chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=TINY_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_tiny_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|bos|>",
        eos_token="<|end|>",
        pad_token="<|pad|>",
        extra_special_tokens=["<|user|>", "<|assistant|>"],
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    folder = tmp_path_factory.mktemp("tiny_tokenizer")
    tokenizer.save_pretrained(folder)
    return folder


def _save_tiny_checkpoint(model: torch.nn.Module, tokenizer_dir: Path, folder: Path) -> Path:
    from transformers import AutoTokenizer

    with torch.no_grad():  # move every tensor off its init so the conversion sees all of them
        gen = torch.Generator().manual_seed(1)
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=gen))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(folder)
    return folder


def _tiny_ids(tokenizer_dir: Path) -> dict[str, int]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    return {"vocab_size": len(tok), "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """Random HF GPT-2 checkpoint (2 layers, n_embd 32, 4 heads, n_positions 64) + tokenizer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, initializer_range=0.2,
                     **_tiny_ids(tiny_tokenizer_dir))
    return _save_tiny_checkpoint(GPT2LMHeadModel(cfg), tiny_tokenizer_dir,
                                 tmp_path_factory.mktemp("tiny_gpt2"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """Random HF Llama checkpoint (2 layers, hidden 32, 4 heads / 2 kv heads, tied) + tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      tie_word_embeddings=True, rope_theta=10000.0, initializer_range=0.2,
                      **_tiny_ids(tiny_tokenizer_dir))
    return _save_tiny_checkpoint(LlamaForCausalLM(cfg), tiny_tokenizer_dir,
                                 tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def tiny_mistral_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """Random HF Mistral checkpoint (as tiny_llama_dir, untied, sliding window 16) + tokenizer."""
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    cfg = MistralConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                        sliding_window=16, rope_theta=10000.0, initializer_range=0.2,
                        **_tiny_ids(tiny_tokenizer_dir))
    return _save_tiny_checkpoint(MistralForCausalLM(cfg), tiny_tokenizer_dir,
                                 tmp_path_factory.mktemp("tiny_mistral"))


@pytest.fixture(scope="session")
def tiny_model(tiny_gpt2_dir: Path):
    """``load_model(tiny_gpt2_dir)`` on CPU: a 2-layer HookedTransformer with tokenizer. Read-only."""
    from interp.models import load_model

    return load_model(tiny_gpt2_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def tiny_llama_model(tiny_llama_dir: Path):
    """``load_model(tiny_llama_dir)`` on CPU (RMSNorm, rotary, gated MLP, GQA). Read-only."""
    from interp.models import load_model

    return load_model(tiny_llama_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def tiny_mistral_model(tiny_mistral_dir: Path):
    """``load_model(tiny_mistral_dir)`` on CPU (as tiny_llama_model, sliding window 16). Read-only."""
    from interp.models import load_model

    return load_model(tiny_mistral_dir, device="cpu", dtype="float32")


# ---------------------------------------------------------------------------------------------
# guard: no test changes a shared (session- or module-scoped) model
# ---------------------------------------------------------------------------------------------
_SNAPSHOTS: dict[int, tuple[object, dict]] = {}


@pytest.fixture(autouse=True)
def _shared_models_unchanged(request: pytest.FixtureRequest):
    """Fail a test that changes (or leaves hooks on) a model fixture shared between tests.

    Session and module fixtures are read-only by convention; this makes the convention checked:
    every parameter and buffer of each shared model the test uses is compared bit for bit (value,
    dtype, shape, stride, requires_grad) before and after the test (``tests/model_state.py``).
    """
    from model_state import changed, hooks_left, snapshot

    shared = []
    for name in request.fixturenames:
        fixturedefs = request._fixturemanager.getfixturedefs(name, request.node)
        if not fixturedefs or fixturedefs[-1].scope == "function":
            continue
        value = request.getfixturevalue(name)
        if isinstance(value, torch.nn.Module):
            if id(value) not in _SNAPSHOTS or _SNAPSHOTS[id(value)][0] is not value:
                _SNAPSHOTS[id(value)] = (value, snapshot(value))
            shared.append((name, value))
    yield
    for name, model in shared:
        bad, hooks = changed(model, _SNAPSHOTS[id(model)][1]), hooks_left(model)
        if bad or hooks:
            _SNAPSHOTS[id(model)] = (model, snapshot(model))  # report once, not in every later test
            pytest.fail(f"test changed the shared fixture {name!r}: tensors {bad[:5]}"
                        f"{' ...' if len(bad) > 5 else ''}; hooks left on {hooks[:5]}")
