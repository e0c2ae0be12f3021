"""Training batches of chat sequences with a loss mask on the answer, and their log-probs.

Every edit method trains on ``chat_prompt(prompt) + answer + eos`` tokenised the project's one
way (:func:`interp.activations.tokenize_chat`: left padding, long prompts truncated from the
left with a warning). :class:`AnswerBatch` adds the loss mask: the answer's tokens and the
end-of-turn token (so the model also learns to stop), never the prompt or the padding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor

from interp.activations import tokenize_chat
from interp.checks import record_label, record_text

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

__all__ = [
    "AnswerBatch",
    "answer_batches",
    "answer_tokens",
    "mean_answer_nll",
    "record_texts",
    "sequence_logprob",
    "token_logprobs",
]


@dataclass(frozen=True)
class AnswerBatch:
    """Left-padded chat sequences and which tokens are the answer's.

    Attributes
    ----------
    tokens : LongTensor of shape (batch, pos)
    attention_mask : LongTensor of shape (batch, pos)
        1 on real tokens, 0 on (left) padding.
    loss_mask : BoolTensor of shape (batch, pos)
        ``True`` on the answer's tokens and the final end-of-turn token: the tokens whose
        log-probability the losses sum (predicted from the position before).
    """

    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]
    loss_mask: Bool[Tensor, "batch pos"]

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def n_answer_tokens(self) -> int:
        """Number of tokens the loss is taken on."""
        return int(self.loss_mask.sum())

    def to(self, device: str | torch.device) -> AnswerBatch:
        """The same batch on `device`."""
        return AnswerBatch(tokens=self.tokens.to(device), attention_mask=self.attention_mask.to(device),
                           loss_mask=self.loss_mask.to(device))

    def select(self, rows: Sequence[int]) -> AnswerBatch:
        """The given rows, with columns that are padding in all of them removed."""
        index = torch.as_tensor(list(rows), dtype=torch.long)
        mask = self.attention_mask[index]
        real = mask.bool().any(dim=0).nonzero()
        first = int(real[0]) if len(real) else 0
        return AnswerBatch(tokens=self.tokens[index, first:], attention_mask=mask[:, first:],
                           loss_mask=self.loss_mask[index, first:])


def answer_tokens(
    model: HookedTransformer,
    prompts: Sequence[str],
    answers: Sequence[str],
    *,
    max_length: int | None = None,
) -> AnswerBatch:
    """Tokenise every ``(prompt, answer)`` pair as one left-padded :class:`AnswerBatch`.

    Parameters
    ----------
    model : HookedTransformer
        With a tokenizer and chat template (:func:`interp.models.load_model`).
    prompts, answers : sequence of str
        Same length; answers non-blank.
    max_length : int, optional
        Default ``model.cfg.n_ctx``. Longer sequences lose their first tokens (a ``UserWarning``
        names the text and how many were dropped); the answer is kept.

    Returns
    -------
    AnswerBatch
        Of shape (n, pos), pos the longest (truncated) sequence.
    """
    chat = tokenize_chat(model, prompts, answers, max_length=max_length)
    return AnswerBatch(tokens=chat.tokens, attention_mask=chat.attention_mask,
                       loss_mask=chat.response_mask | chat.end_mask)


def answer_batches(
    model: HookedTransformer,
    prompts: Sequence[str],
    answers: Sequence[str],
    *,
    batch_size: int = 8,
    max_length: int | None = None,
) -> list[AnswerBatch]:
    """:func:`answer_tokens`, cut into batches of `batch_size` in the given order.

    Each batch keeps only the columns it needs (less padding than the whole set).

    Returns
    -------
    list of AnswerBatch
        ``ceil(n / batch_size)`` batches of shape (<= batch_size, pos_b).

    Examples
    --------
    >>> bs = answer_batches(model, ["How do I pick a lock?"], ["I can't help with that."])  # doctest: +SKIP
    >>> bs[0].tokens.shape, bs[0].n_answer_tokens  # doctest: +SKIP
    (torch.Size([1, 14]), 8)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    full = answer_tokens(model, prompts, answers, max_length=max_length)
    n = len(full)
    return [full.select(range(start, min(start + batch_size, n))) for start in range(0, n, batch_size)]


def answer_logits(model: HookedTransformer, final: Float[Tensor, "batch pos d_model"],
                  predicting: Bool[Tensor, "batch pos_minus_1"]) -> Float[Tensor, "n vocab"]:
    """Logits (float32) of ``final[:, :-1][predicting]`` only: final norm, unembedding, soft cap.

    ``final`` is the residual stream after the last block (``model(..., stop_at_layer=n_layers)``);
    rows come in row-major order of ``predicting``. Memory holds (n, d_vocab), not (batch, pos, d_vocab).
    """
    resid = final[:, :-1][predicting][None]  # (1, n, d_model): norm and unembedding act per position
    if model.cfg.normalization_type is not None:
        resid = model.ln_final(resid)
    logits = model.unembed(resid)[0].float()
    cap = getattr(model.cfg, "output_logits_soft_cap", -1.0) or -1.0
    return cap * torch.tanh(logits / cap) if cap > 0 else logits


def token_logprobs(model: HookedTransformer, batch: AnswerBatch) -> Float[Tensor, "batch pos_minus_1"]:
    """``log p(token t | tokens < t)`` on the answer tokens, 0 elsewhere, in float32.

    Only the answer positions are unembedded: the residual stream after the last block is
    gathered there before the final norm and the unembedding, so memory holds (answer tokens,
    d_vocab) logits instead of (batch, pos, d_vocab) (long jailbreak prompts on a 49k vocabulary
    otherwise need gigabytes per step).

    Parameters
    ----------
    model : HookedTransformer
    batch : AnswerBatch
        On the model's device.

    Returns
    -------
    Tensor of shape (batch, pos - 1)
        Entry ``[b, t]`` is the log-probability of ``tokens[b, t + 1]`` when
        ``loss_mask[b, t + 1]``, else 0. Differentiable.
    """
    predicting = batch.loss_mask[:, 1:]
    final = model(batch.tokens, attention_mask=batch.attention_mask, stop_at_layer=model.cfg.n_layers)
    nll = F.cross_entropy(answer_logits(model, final, predicting), batch.tokens[:, 1:][predicting], reduction="none")
    out = torch.zeros(predicting.shape, dtype=nll.dtype, device=nll.device)
    return out.masked_scatter(predicting, -nll)


def sequence_logprob(model: HookedTransformer, batch: AnswerBatch) -> Float[Tensor, "batch"]:
    """Summed log-probability of each row's answer tokens (and end-of-turn token), float32.

    Returns
    -------
    Tensor of shape (batch,)
        ``sum_t log p(answer_t | prompt, answer_<t)``. Differentiable; used by DPO.
    """
    return token_logprobs(model, batch).sum(dim=-1)


def mean_answer_nll(model: HookedTransformer, batch: AnswerBatch) -> Float[Tensor, ""]:
    """Mean negative log-likelihood per answer token over the whole batch (SFT's loss).

    Returns
    -------
    Tensor of shape ()
    """
    count = batch.loss_mask[:, 1:].sum().clamp(min=1)
    return -token_logprobs(model, batch).sum() / count


def record_texts(dataset: Any, fields: Sequence[str], *, method: str) -> list[tuple[str, ...]]:
    """Read text fields of every record; raise naming the record and the field when one is missing.

    Parameters
    ----------
    dataset : SafetyDataset, iterable of records, or one record
        Records are :class:`~interp.data.SafetyRecord`, dicts in SafeEdit's JSON form, or any
        object with the attributes.
    fields : sequence of str
        Attribute names, e.g. ``("adversarial_prompt", "safe_generation")``.
    method : str
        Named in errors.

    Returns
    -------
    list of tuple of str
        One tuple per record, the fields in order.

    Examples
    --------
    >>> record_texts([{"id": 7, "adversarial prompt": "Q", "safe generation": "A"}],
    ...              ["adversarial_prompt", "safe_generation"], method="sft")
    [('Q', 'A')]
    >>> record_texts([{"id": 7, "adversarial prompt": "Q"}], ["adversarial_prompt", "safe_generation"],
    ...              method="sft")
    Traceback (most recent call last):
    ...
    ValueError: sft: record #0 (id=7) has no non-blank field 'safe generation' (needed: 'adversarial prompt', 'safe generation')
    """
    if isinstance(dataset, Mapping) or (not isinstance(dataset, (str, bytes))
                                        and record_text(dataset, fields[0]) is not None):
        records: list[Any] = [dataset]
    elif isinstance(dataset, Iterable) and not isinstance(dataset, (str, bytes)):
        records = list(dataset)
    else:
        raise TypeError(f"{method}: dataset must be a SafetyDataset or a sequence of records, "
                        f"got {type(dataset).__name__}")
    if not records:
        raise ValueError(f"{method}: the dataset is empty")
    needed = ", ".join(repr(f.replace("_", " ")) for f in fields)
    out = []
    for i, rec in enumerate(records):
        row = []
        for name in fields:
            text = record_text(rec, name)
            if text is None:
                raise ValueError(f"{method}: {record_label(rec, i)} has no non-blank field "
                                 f"{name.replace('_', ' ')!r} (needed: {needed})")
            row.append(text)
        out.append(tuple(row))
    return out
