"""Chat sequences ``chat_prompt(prompt) + response + eos``, tokenised with their response positions.

:func:`tokenize_chat` gives the token ids together with the masks that
:class:`~interp.activations.PositionSelect` needs to pool over the answer's own tokens only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from interp.checks import check_texts
from interp.models import Tokenized, chat_prompt, chat_sequence, tokenize

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

logger = logging.getLogger(__name__)

__all__ = ["ChatTokens", "tokenize_chat"]


@dataclass(frozen=True)
class ChatTokens:
    """Left-padded chat sequences ``chat_prompt(prompt) + response + eos`` and where the answer is.

    Attributes
    ----------
    tokens : LongTensor of shape (n, pos)
    attention_mask : LongTensor of shape (n, pos)
        1 on real tokens.
    response_mask : BoolTensor of shape (n, pos)
        ``True`` on the tokens of the response text (not the prompt, not the final end-of-turn
        token).
    end_mask : BoolTensor of shape (n, pos)
        ``True`` on the final end-of-turn token of each sequence (the last real token).
    """

    tokens: Int[Tensor, "n pos"]
    attention_mask: Int[Tensor, "n pos"]
    response_mask: Bool[Tensor, "n pos"]
    end_mask: Bool[Tensor, "n pos"]

    @property
    def tokenized(self) -> Tokenized:
        return Tokenized(tokens=self.tokens, attention_mask=self.attention_mask)


def tokenize_chat(
    model: HookedTransformer,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    max_length: int | None = None,
) -> ChatTokens:
    """Tokenise chat sequences (left padding) and mark the response tokens in each.

    Each text is :func:`interp.models.chat_sequence` ``(model, prompt, response)``. The response
    tokens are those after the tokens of ``chat_prompt(model, prompt)``; if the joint
    tokenisation merges tokens across that boundary the first differing token is counted as the
    response's. Long sequences lose tokens from the left (the response is kept).

    Parameters
    ----------
    model : HookedTransformer
        With a tokenizer and chat template.
    prompts, responses : sequence of str
        Same length; responses must be non-empty after stripping whitespace.
    max_length : int, optional
        Default ``model.cfg.n_ctx``.

    Returns
    -------
    ChatTokens
    """
    prompts = check_texts(prompts, what="prompts")
    responses = check_texts(responses, what="responses", non_blank=True)
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")
    texts = [chat_sequence(model, p, r) for p, r in zip(prompts, responses)]
    toks = tokenize(model, texts, padding_side="left", max_length=max_length)
    tokenizer = model.tokenizer
    full_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer([chat_prompt(model, p) for p in prompts], add_special_tokens=False)["input_ids"]
    n, width = toks.tokens.shape
    response_mask = torch.zeros((n, width), dtype=torch.bool)
    end_mask = torch.zeros((n, width), dtype=torch.bool)
    for i, (full, head) in enumerate(zip(full_ids, prompt_ids)):
        shared = 0
        for a, b in zip(full, head):
            if a != b:
                break
            shared += 1
        if shared < len(head):
            logger.warning("text #%d: the chat prompt's tokens are not a prefix of the full "
                           "sequence (%d of %d match); response starts at the first difference",
                           i, shared, len(head))
        tail = len(full) - shared  # response tokens + end-of-turn token
        n_real = int(toks.attention_mask[i].sum())
        first = width - min(tail, n_real)
        response_mask[i, first:width - 1] = True
        end_mask[i, width - 1] = True
    if bool((response_mask.sum(dim=1) == 0).any()):
        i = int((response_mask.sum(dim=1) == 0).nonzero()[0])
        raise ValueError(f"response #{i} has no tokens of its own in the chat sequence")
    return ChatTokens(tokens=toks.tokens, attention_mask=toks.attention_mask,
                      response_mask=response_mask, end_mask=end_mask)
