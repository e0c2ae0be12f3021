"""The five distances between a record's safe and unsafe answers, one per layer (``method=``).

Each is a (n_layers,) vector per record; :func:`~interp.locate.locate_toxic_layer` picks its
first argmax. With X a record's adversarial prompt and Y one of its answers, the five
definitions of "the hidden states" are:

``"response_mean"`` (default)
    ``chat_sequence(X, Y)`` (prompt + answer + end-of-turn token in the model's chat format),
    mean over the answer's own tokens (no prompt, no padding, never the first position of the
    sequence) of each block's residual output ``blocks.{l}.hook_resid_post`` (the same point for
    every layer; the last layer is read before ``ln_final``). Distance = L2 of the difference of
    the two means. Insensitive to length differences between the answers.
``"last_token"``
    The same sequences; the residual output at the last real token (the end-of-turn token).
``"response_relative"`` (scale-free)
    ``"response_mean"``'s distance divided by the mean norm of the two answer means at that
    layer: ``||a - b|| / ((||a|| + ||b||) / 2)``. The raw L2 distance grows with the residual
    stream's norm, which grows with depth, so ``"response_mean"`` mostly picks the deepest
    layer (layer 29 of 30 on all 37 SmolLM2 records, layer 5 of 6 on 59 of 60 organism
    records); this one asks where the answers part most *relative to the stream's scale*.
``"response_cosine"`` (scale-free)
    ``1 - cos(a, b)`` of the same two answer means: where their directions differ most.
``"easyedit"``
    What EasyEdit's ``SafetyEditor._locate_toxic_layer`` computes (read at zjunlp/EasyEdit
    ``easyeditor/editors/safety_editor.py``), to put our numbers next to EasyEdit's: the two
    answers ALONE (no prompt, no chat format), tokenised by the tokenizer as is (its own special
    tokens, e.g. a Llama BOS, are added), padded on the RIGHT to one length with the eos token,
    run as one batch with padding masked as attention keys (padding positions still get their
    own hidden states, with ordinary position ids, as in Hugging Face); distance = Frobenius
    norm of the difference of the whole ``[seq, d_model]`` matrices, padding INCLUDED; entry
    ``l`` is Hugging Face ``hidden_states[l + 1]``, so the last layer's entry is taken AFTER the
    final norm (``ln_final``), on another scale. Answers longer than ``n_ctx`` are cut on the
    right (EasyEdit's ``truncation=True``). Known accidents reproduced on purpose: when the
    answers differ in length the comparison is misaligned and padding decides much of the
    distance; the first position's "massive activations" (SmolLM2, GPT-2) weigh in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Float
from torch import Tensor

from interp.activations import AllPositions, LastToken, PositionSelect, collect_activations, tokenize_chat
from interp.hooks import attn_scores, resid_post, temporary_hooks

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

logger = logging.getLogger(__name__)

__all__ = ["CHAT_METHODS", "LOCATE_METHODS", "chat_distances", "easyedit_distances"]

#: Valid ``method=`` values of :func:`locate_toxic_layer`.
LOCATE_METHODS: tuple[str, ...] = ("response_mean", "last_token", "easyedit", "response_relative",
                                   "response_cosine")
#: The methods that read chat sequences (all but ``"easyedit"``).
CHAT_METHODS: tuple[str, ...] = ("response_mean", "last_token", "response_relative", "response_cosine")


def chat_distances(model: HookedTransformer, triples: Sequence[tuple[str, str, str]], *,
                   method: str, batch_size: int, device: Any) -> Float[Tensor, "n n_layers"]:
    """(n_records, n_layers) distances of the chat methods (:data:`CHAT_METHODS`).

    Parameters
    ----------
    model : HookedTransformer
    triples : sequence of (prompt, safe answer, unsafe answer)
    method : {"response_mean", "last_token", "response_relative", "response_cosine"}
    batch_size : int
        Sequences per forward pass (two per record).
    device : str, torch.device or None
        The model's device (see :func:`interp.checks.model_device`).
    """
    prompts = [p for p, _, _ in triples for _ in range(2)]
    answers = [a for _, safe, unsafe in triples for a in (safe, unsafe)]
    chat = tokenize_chat(model, prompts, answers)
    names = [resid_post(layer) for layer in range(model.cfg.n_layers)]
    if method not in CHAT_METHODS:
        raise ValueError(f"chat_distances: method must be one of {list(CHAT_METHODS)}, got {method!r}")
    reducer: Any = LastToken() if method == "last_token" else PositionSelect(chat.response_mask)
    acts = collect_activations(model, chat.tokenized, hook_names=names, reducer=reducer,
                               keep_first_position=False, batch_size=batch_size,
                               progress=False, device=device)
    stacked = torch.stack([acts[name] for name in names], dim=1).float()  # (2n, n_layers, d_model)
    safe, unsafe = stacked[0::2], stacked[1::2]
    if method == "response_cosine":
        return 1.0 - torch.nn.functional.cosine_similarity(safe, unsafe, dim=-1)
    distance = torch.linalg.vector_norm(safe - unsafe, dim=-1)
    if method == "response_relative":
        scale = 0.5 * (torch.linalg.vector_norm(safe, dim=-1) + torch.linalg.vector_norm(unsafe, dim=-1))
        return distance / scale.clamp(min=torch.finfo(scale.dtype).tiny)
    return distance


def easyedit_distances(model: HookedTransformer, safe: str, unsafe: str, *,
                       device: Any, drop_first_position: bool = False) -> Float[Tensor, " n_layers"]:
    """EasyEdit's locator for one record (see the module docstring): (n_layers,) distances.

    ``drop_first_position=True`` leaves position 0 out of every layer's Frobenius norm.
    """
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or tokenizer.eos_token_id is None:
        raise ValueError(f"method 'easyedit' needs a tokenizer with an eos token; model "
                         f"{model.cfg.model_name!r} has none (load it with interp.load_model)")
    rows = [tokenizer(text, add_special_tokens=True)["input_ids"] for text in (safe, unsafe)]
    n_ctx = model.cfg.n_ctx
    for which, row in zip(("safe", "unsafe"), rows):
        if len(row) > n_ctx:
            logger.warning("easyedit: the %s generation has %d tokens; cut to n_ctx=%d on the right "
                           "(EasyEdit's truncation=True)", which, len(row), n_ctx)
    rows = [row[:n_ctx] for row in rows]
    if min(len(row) for row in rows) == 0:
        raise ValueError("method 'easyedit': a generation tokenizes to no tokens")
    width = max(len(row) for row in rows)
    tokens = torch.full((2, width), tokenizer.eos_token_id, dtype=torch.long)  # EasyEdit pads with eos
    keys = torch.zeros((2, width), dtype=torch.bool)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        keys[i, :len(row)] = True

    key_mask: dict[str, Tensor] = {}

    def mask_padding_keys(scores: Tensor, hook: Any) -> Tensor:
        # Hugging Face masks padding as attention keys only; its queries still run, at their
        # ordinary positions. TransformerLens's attention_mask would also move them to other
        # positions, so run with an all-ones mask and mask the keys here instead.
        keys_here = key_mask.setdefault(str(scores.device), keys.to(scores.device))
        return scores.masked_fill(~keys_here[:, None, None, :], float("-inf"))

    n_layers = model.cfg.n_layers
    names = [resid_post(layer) for layer in range(n_layers)]
    score_hooks = [(attn_scores(layer), mask_padding_keys) for layer in range(n_layers)]
    with temporary_hooks(model, score_hooks):
        acts = collect_activations(model, tokens, hook_names=names, reducer=AllPositions(),
                                   batch_size=2, sort_by_length=False, progress=False, device=device)
    hidden = [acts[name] for name in names]  # each (2, width, d_model)
    if model.cfg.normalization_type is not None:
        if model.cfg.normalization_type in ("LNPre", "RMSPre"):
            logger.warning("easyedit: model %r has folded final-norm weights (%s); the last layer's "
                           "entry is not Hugging Face's hidden_states[-1]", model.cfg.model_name,
                           model.cfg.normalization_type)
        with torch.inference_mode():
            last = hidden[-1].to(device=model.W_E.device, dtype=model.W_E.dtype)
            hidden[-1] = model.ln_final(last).float().cpu()
    start = 1 if drop_first_position else 0
    return torch.stack([torch.linalg.vector_norm(h[0, start:] - h[1, start:]) for h in hidden])
