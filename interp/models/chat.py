"""Chat format and tokenisation for models from :func:`interp.models.load_model`.

Text is always tokenised with ``add_special_tokens=False``: the chat template already holds
every special token the model needs, and ``model.cfg.default_prepend_bos`` is ``False``, so
never rely on TransformerLens's ``to_tokens`` BOS handling.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor
from transformer_lens import HookedTransformer
from transformers import PreTrainedTokenizerBase

from interp.checks import check_texts

__all__ = ["Tokenized", "chat_prompt", "chat_sequence", "tokenize"]


def _tokenizer_of(model: HookedTransformer) -> PreTrainedTokenizerBase:
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError(
            f"model {model.cfg.model_name!r} has no tokenizer; load it with interp.load_model"
        )
    return tokenizer


def chat_prompt(model: HookedTransformer, text: str, *, system: str | None = None) -> str:
    """Format one user turn in the model's chat template, ready for the assistant's answer.

    Applies ``model.tokenizer.apply_chat_template`` with ``add_generation_prompt=True``. The
    result holds every special token the model needs, so tokenise it with
    ``add_special_tokens=False`` (:func:`tokenize` does).

    Parameters
    ----------
    model : HookedTransformer
        A model from :func:`interp.models.load_model` (its tokenizer must have a chat template).
    text : str
        The user message.
    system : str, optional
        A system message. ``None`` (default) sends no system turn, so the template's own
        default applies: SmolLM2's template then inserts "You are a helpful AI assistant named
        SmolLM, trained by Hugging Face"; the organism has none. Pass ``system=""`` for an
        empty system turn (SmolLM2 then has no default system text).

    Returns
    -------
    str
        E.g. ``"<|bos|><|user|>hi<|assistant|>"`` for the organism style, or
        ``"<|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n"``
        for SmolLM2.

    Raises
    ------
    ValueError
        The model has no tokenizer, or the tokenizer has no chat template, or the template
        rejects the messages (e.g. a system turn it does not support).
    """
    tokenizer = _tokenizer_of(model)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"the tokenizer of model {model.cfg.model_name!r} has no chat template; load a folder "
            "whose tokenizer_config.json (or chat_template.jinja) defines one"
        )
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    messages = [] if system is None else [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": text})
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as e:  # jinja2 TemplateError, raise_exception() in the template
        raise ValueError(
            f"the chat template of model {model.cfg.model_name!r} rejected the messages "
            f"(system={'given' if system is not None else 'none'}): {e}"
        ) from e


def chat_sequence(model: HookedTransformer, prompt: str, response: str, *,
                  system: str | None = None) -> str:
    """A full conversation for scoring: ``chat_prompt(model, prompt) + response + eos_token``.

    Parameters
    ----------
    model : HookedTransformer
    prompt : str
        The user message.
    response : str
        The assistant's answer (without an end token).
    system : str, optional
        Passed to :func:`chat_prompt`.
    """
    tokenizer = _tokenizer_of(model)
    if tokenizer.eos_token is None:
        raise ValueError(f"the tokenizer of model {model.cfg.model_name!r} has no eos_token")
    return chat_prompt(model, prompt, system=system) + response + tokenizer.eos_token


@dataclass(frozen=True)
class Tokenized:
    """Padded token ids and their attention mask (both on CPU).

    Attributes
    ----------
    tokens : LongTensor of shape (batch, pos)
        Token ids; padding positions hold ``tokenizer.pad_token_id``.
    attention_mask : LongTensor of shape (batch, pos)
        1 for real tokens, 0 for padding.
    """

    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]


def tokenize(
    model: HookedTransformer,
    texts: Sequence[str] | str,
    *,
    padding_side: str = "left",
    max_length: int | None = None,
) -> Tokenized:
    """Tokenise texts with ``add_special_tokens=False``, truncate from the left, pad.

    Parameters
    ----------
    model : HookedTransformer
        A model with a tokenizer (from :func:`interp.models.load_model`).
    texts : sequence of str, or str
        Non-empty texts, usually built with :func:`chat_prompt` / :func:`chat_sequence`. A single
        str is treated as one text.
    padding_side : {"left", "right"}, default="left"
        Left padding keeps the last real token at position -1 (generation, last-token reads).
    max_length : int, optional
        Longest kept sequence; default (and at most) ``model.cfg.n_ctx``. Longer texts lose their FIRST tokens
        (the end of a chat, where the answer starts, is kept), with one ``UserWarning`` naming
        the text and the number of tokens dropped.

    Returns
    -------
    Tokenized
        ``tokens`` and ``attention_mask``, LongTensors of shape (batch, pos) on CPU, where pos is
        the longest (truncated) text.

    Raises
    ------
    ValueError
        Empty ``texts``, an empty text (named by index), a bad ``padding_side`` or
        ``max_length``, or padding needed but the tokenizer has no pad/eos token.
    """
    tokenizer = _tokenizer_of(model)
    if isinstance(texts, str):
        texts = [texts]
    texts = check_texts(texts, what="texts", allow_empty_list=False)
    for i, text in enumerate(texts):
        if not text:
            raise ValueError(f"text #{i} is an empty string")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    n_ctx = model.cfg.n_ctx
    limit = n_ctx if max_length is None else max_length
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"max_length must be a positive int, got {max_length!r}")
    limit = min(limit, n_ctx)  # a longer max_length could not run: positions stop at n_ctx

    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    dropped: dict[int, int] = {}
    for i, row in enumerate(ids):
        if not row:
            raise ValueError(f"text #{i} tokenizes to no tokens: {texts[i]!r}")
        if len(row) > limit:
            dropped[i] = len(row) - limit
            ids[i] = row[-limit:]
    if dropped:
        worst = max(dropped, key=dropped.get)
        others = f" (and {len(dropped) - 1} others)" if len(dropped) > 1 else ""
        context = (f"the model's context (n_ctx={n_ctx})" if max_length is None
                   else f"max_length={limit}")
        warnings.warn(
            f"text #{worst}{others} longer than {context}: dropped {dropped[worst]} tokens "
            "from the left", UserWarning, stacklevel=2,
        )

    width = max(len(row) for row in ids)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id
    if pad_id is None and any(len(row) < width for row in ids):
        raise ValueError(f"the tokenizer of model {model.cfg.model_name!r} has no pad or eos token")
    tokens = torch.full((len(ids), width), pad_id if pad_id is not None else 0, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        span = slice(width - len(row), width) if padding_side == "left" else slice(0, len(row))
        tokens[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return Tokenized(tokens=tokens, attention_mask=mask)
