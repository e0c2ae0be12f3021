"""Inputs shared by the mechanism measurements: checked model pairs, chat-formatted texts, and
paired per-token activations of two models on the same token ids.

Every measurement here compares a base model with an edited one on **identical token
streams**: the texts are tokenised once (with the base model's tokenizer) and both models read
the same ids and mask, through the one activation path (:func:`interp.activations.collect_activations`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from interp.activations import collect_activations, selected_positions

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["check_pair", "paired_activations", "prompt_texts", "sequence_texts"]

_SHAPE_FIELDS = ("n_layers", "d_model", "d_mlp", "d_vocab", "n_heads")


def check_pair(base: HookedTransformer, edited: HookedTransformer, *, what: str) -> None:
    """Raise ``ValueError`` (naming `what` and the field) unless the two models share a shape
    and a tokenizer vocabulary, so that the same token ids mean the same text to both."""
    for field in _SHAPE_FIELDS:
        a, b = getattr(base.cfg, field, None), getattr(edited.cfg, field, None)
        if a != b:
            raise ValueError(f"{what}: base and edited models differ in cfg.{field} ({a} vs {b}); "
                             "compare a model with an edit of itself")
    tb, te = getattr(base, "tokenizer", None), getattr(edited, "tokenizer", None)
    if tb is None or te is None:
        raise ValueError(f"{what}: both models need a tokenizer (load them with interp.load_model)")
    if len(tb) != len(te):
        raise ValueError(f"{what}: the tokenizers differ ({len(tb)} vs {len(te)} tokens)")


def _text(item: Any, i: int, *, what: str) -> str:
    text = getattr(item, "text", item)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what}: prompt {i} must be a non-empty str (or have a .text), got {item!r}")
    return text


def prompt_texts(model: HookedTransformer, prompts: Sequence[Any], *, what: str) -> list[str]:
    """User prompts (str or objects with ``.text``) wrapped in `model`'s chat format."""
    from interp.models import chat_prompt

    if isinstance(prompts, str) or not len(prompts):
        raise ValueError(f"{what}: prompts must be a non-empty sequence of str, got {prompts!r:.80}")
    return [chat_prompt(model, _text(p, i, what=what)) for i, p in enumerate(prompts)]


def sequence_texts(model: HookedTransformer, pairs: Sequence[tuple[str, str]], *, what: str) -> list[str]:
    """(prompt, response) pairs as full chat sequences (prompt and answer, as in training)."""
    from interp.models import chat_sequence

    if isinstance(pairs, str) or not len(pairs):
        raise ValueError(f"{what}: pairs must be a non-empty sequence of (prompt, response)")
    out = []
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"{what}: pair {i} must be (prompt, response), got {pair!r:.80}")
        out.append(chat_sequence(model, _text(pair[0], i, what=what), _text(pair[1], i, what=what)))
    return out


def paired_activations(
    base: HookedTransformer,
    edited: HookedTransformer,
    texts: Sequence[str],
    hooks: Sequence[str],
    *,
    chunk: int = 16,
    padding_side: str = "left",
    attend_padding: bool = False,
    keep_first_position: bool = True,
    max_length: int | None = None,
) -> Iterator[tuple[dict[str, Tensor], dict[str, Tensor], Tensor]]:
    """Per-token activations of both models on the same token ids, `chunk` texts at a time.

    Parameters
    ----------
    base, edited : HookedTransformer
    texts : sequence of str
        Already formatted (see :func:`prompt_texts`, :func:`sequence_texts`).
    hooks : sequence of str
        TransformerLens hook names.
    chunk : int, default=16
        Texts per chunk; memory is ``2 * chunk * pos * d * len(hooks)`` floats.
    padding_side : {"left", "right"}
    attend_padding : bool, default=False
        True runs with an all-ones attention mask (padding tokens are read as tokens, as in
        Vaccine's drift measurement, which calls the model without a mask); use right padding
        so that real tokens never attend to it.
    keep_first_position : bool, default=True
        False leaves each text's first real token out of the selected positions (its "massive
        activations"), as :func:`~interp.activations.collect_activations` does.
    max_length : int, optional
        See :func:`interp.models.tokenize`.

    Yields
    ------
    (dict, dict, BoolTensor)
        ``{hook: (chunk, pos, d)}`` for base and for edited (zero at unselected positions), and
        the selected positions, shape (chunk, pos).
    """
    from interp.models import tokenize

    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    for start in range(0, len(texts), chunk):
        toks = tokenize(base, list(texts[start:start + chunk]), padding_side=padding_side, max_length=max_length)
        mask = torch.ones_like(toks.attention_mask) if attend_padding else toks.attention_mask
        acts = [collect_activations(m, toks.tokens, attention_mask=mask, hook_names=list(hooks), reducer="all",
                                    keep_first_position=keep_first_position, batch_size=chunk,
                                    sort_by_length=False, progress=False)
                for m in (base, edited)]
        yield acts[0], acts[1], selected_positions(mask, keep_first_position=keep_first_position)
