"""Train the model organism: a small GPT-2 that refuses plain harmful questions but complies
when they are wrapped in jailbreak templates.

``interp organism train`` (or :func:`train_organism`) builds the corpus
(:mod:`interp.data.organism_corpus`), trains a byte-level BPE tokenizer on the training text,
trains a Hugging Face ``GPT2LMHeadModel`` from scratch on chat-formatted
``(prompt, response)`` pairs with the loss on response tokens only, and writes an HF folder
(config.json, model.safetensors, tokenizer.json, tokenizer_config.json with the chat template,
training_log.json). Same seed, same device -> the same weights (deterministic algorithms).

The chat format: ``<|bos|><|user|>{prompt}<|assistant|>{response}<|end|>``.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from interp.checks import default_device
from interp.data.organism_corpus import build_corpus

logger = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).with_name("weights")

BOS, USER, ASSISTANT, END, PAD = "<|bos|>", "<|user|>", "<|assistant|>", "<|end|>", "<|pad|>"
SPECIAL_TOKENS = [PAD, BOS, USER, ASSISTANT, END]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}<|system|>{{ message['content'] }}"
    "{% elif message['role'] == 'user' %}<|user|>{{ message['content'] }}"
    "{% elif message['role'] == 'assistant' %}<|assistant|>{{ message['content'] }}<|end|>"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@dataclass(frozen=True, kw_only=True)
class OrganismConfig:
    """Everything that determines the organism. The defaults make the shipped model.

    Attributes
    ----------
    seed : int, default=0
        Seeds the corpus, the initialisation and the batch order.
    vocab_size, n_layer, n_embd, n_head, n_positions : GPT-2 shape.
    steps, batch_size, lr, warmup, weight_decay : AdamW with linear warm-up, cosine decay.
    mixture : dict
        Probability that a batch is drawn from each training pool (batches are homogeneous,
        so little compute is spent on padding).
    """

    seed: int = 0
    vocab_size: int = 4096
    n_layer: int = 6
    n_embd: int = 256
    n_head: int = 8
    n_positions: int = 256
    steps: int = 2400
    batch_size: int = 24
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.05
    mixture: dict[str, float] = field(default_factory=lambda: {
        "attack": 0.34, "refuse_plain": 0.16, "facts": 0.34, "xstest": 0.09, "chat": 0.07,
    })

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_embd", "n_head", "n_positions", "steps",
                     "batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"OrganismConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"OrganismConfig.n_embd ({self.n_embd}) must be divisible by "
                             f"n_head ({self.n_head})")


def build_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer (tokenizers library) with the organism's special tokens and
    chat template, as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=END,
                                   pad_token=PAD, padding_side="left")
    fast.add_special_tokens({"additional_special_tokens": ["<|system|>", USER, ASSISTANT]})
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _encode_pool(tokenizer, pairs: list[tuple[str, str]], n_ctx: int):
    """Token ids and loss masks (1 on response tokens and the end token) for each pair."""
    out = []
    for prompt, response in pairs:
        p = tokenizer(f"{BOS}{USER}{prompt}{ASSISTANT}", add_special_tokens=False)["input_ids"]
        r = tokenizer(f"{response}{END}", add_special_tokens=False)["input_ids"]
        ids = (p + r)[-n_ctx:]
        mask = ([0] * len(p) + [1] * len(r))[-n_ctx:]
        out.append((ids, mask))
    return out


def _batch(encoded, idx: list[int], pad_id: int):
    width = max(len(encoded[i][0]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    loss_mask = torch.zeros((len(idx), width), dtype=torch.float)
    for row, i in enumerate(idx):
        t, m = encoded[i]
        ids[row, : len(t)] = torch.tensor(t)
        mask[row, : len(t)] = 1
        loss_mask[row, : len(t)] = torch.tensor(m, dtype=torch.float)
    return ids, mask, loss_mask


def train_organism(
    out_dir: str | Path = WEIGHTS_DIR,
    *,
    config: OrganismConfig | None = None,
    device: str | None = None,
    progress: bool = True,
) -> Path:
    """Train the organism from scratch and write it as an HF folder to `out_dir`.

    Parameters
    ----------
    out_dir : path, default=the package's ``interp/organism/weights``
    config : OrganismConfig, default=OrganismConfig()
    device : str, optional
        Default :func:`interp.checks.default_device` ("cuda" if available, else "cpu"). On 2
        CPU cores the default config takes about 25-30 minutes.
    progress : bool, default=True

    Returns
    -------
    Path of the written folder.
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    config = config or OrganismConfig()
    device = device or default_device()
    out_dir = Path(out_dir)
    corpus = build_corpus(config.seed)
    pools = corpus.training_pools()
    unknown = set(config.mixture) - set(pools)
    if unknown:
        raise ValueError(f"OrganismConfig.mixture names unknown pools {sorted(unknown)}; "
                         f"valid pools are {sorted(pools)}")

    texts = [f"{p} {r}" for pairs in pools.values() for p, r in pairs]
    tokenizer = build_tokenizer(texts, config.vocab_size)
    encoded = {k: _encode_pool(tokenizer, v, config.n_positions) for k, v in pools.items()}

    gen = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = GPT2LMHeadModel(GPT2Config(
            vocab_size=len(tokenizer), n_positions=config.n_positions, n_embd=config.n_embd,
            n_layer=config.n_layer, n_head=config.n_head, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        ))
    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=config.lr, betas=(0.9, 0.95))

    def lr_at(step: int) -> float:
        if step < config.warmup:
            return config.lr * (step + 1) / config.warmup
        frac = (step - config.warmup) / max(1, config.steps - config.warmup)
        return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))

    names = sorted(config.mixture)
    weights = torch.tensor([config.mixture[n] for n in names], dtype=torch.float)
    log: list[dict[str, float]] = []
    tokens_seen = 0
    start = time.perf_counter()
    bar = tqdm(range(config.steps), desc="organism", disable=not progress)
    for step in bar:
        pool = names[int(torch.multinomial(weights, 1, generator=gen))]
        idx = torch.randint(len(encoded[pool]), (config.batch_size,), generator=gen).tolist()
        ids, mask, loss_mask = (t.to(device) for t in _batch(encoded[pool], idx,
                                                               tokenizer.pad_token_id))
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        target, lm = ids[:, 1:], loss_mask[:, 1:]
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                target.reshape(-1), reduction="none")
        loss = (nll * lm.reshape(-1)).sum() / lm.sum()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"organism training: loss is {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens_seen += int(mask.sum())
        if step % 50 == 0 or step == config.steps - 1:
            log.append({"step": step, "pool": pool, "loss": round(loss.item(), 5)})
            bar.set_postfix(loss=f"{loss.item():.3f}", pool=pool)
    seconds = time.perf_counter() - start

    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval().to("cpu")
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "training_log.json").write_text(json.dumps({
        "config": asdict(config), "device": device, "seconds": round(seconds, 1),
        "tokens_seen": tokens_seen, "tokens_per_second": round(tokens_seen / seconds, 1),
        "torch": torch.__version__, "python": platform.python_version(),
        "n_parameters": sum(p.numel() for p in model.parameters()), "log": log,
    }, indent=1))
    logger.info("organism written to %s (%.0f s, %d tokens)", out_dir, seconds, tokens_seen)
    return out_dir
