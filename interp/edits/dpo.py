"""Direct preference optimisation: chosen = safe generation, rejected = unsafe generation.

The loss (Rafailov et al., 2023), per pair and averaged over the batch::

    -log sigmoid(beta * ((log pi(c) - log ref(c)) - (log pi(r) - log ref(r))))

with ``log pi(y)`` the summed log-probability of the answer tokens (and end-of-turn token) of
``y`` after the chat prompt. The reference is the input model, frozen: its log-probabilities
never change, so they are computed once, before training, on the copy (identical to the input
model at that point) and stored with each batch -- no second model in memory. At step 0 the
policy equals the reference and the loss is ``log 2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from interp.edits.batches import AnswerBatch, answer_tokens, record_texts, sequence_logprob
from interp.edits.config import TrainingConfig
from interp.edits.core import run_edit

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

    from interp.edits.result import EditResult

__all__ = ["DPOConfig", "PreferenceBatch", "dpo", "dpo_loss", "preference_batches", "preference_loss"]

DPO_FIELDS = ("adversarial_prompt", "safe_generation", "unsafe_generation")


@dataclass(frozen=True, kw_only=True)
class DPOConfig(TrainingConfig):
    """Options of :func:`dpo` (starting points for the organism, to be measured).

    Parameters
    ----------
    beta : float, default=0.1
        Inverse temperature of the implicit reward ``beta * log(pi / ref)``.
    steps : int, default=100
    lr : float, default=5e-5
    batch_size : int, default=8
        Pairs per step (each step runs one forward pass over 2 x batch_size sequences).
    trainable, max_length, optimizer, weight_decay, grad_clip
        As in :class:`~interp.edits.config.TrainingConfig`.

    Examples
    --------
    >>> DPOConfig(beta=-1)
    Traceback (most recent call last):
    ...
    ValueError: DPOConfig.beta must be a finite number > 0, got -1
    """

    name: ClassVar[str] = "dpo"

    beta: float = 0.1
    steps: int = 100
    lr: float = 5e-5
    batch_size: int = 8

    def validate(self) -> None:
        super().validate()
        self._positive_float("beta")


@dataclass(frozen=True)
class PreferenceBatch:
    """Chosen and rejected answers to the same prompts, with the frozen reference's log-probs.

    Attributes
    ----------
    pairs : AnswerBatch
        Shape (2 * n, pos): rows ``0..n-1`` the chosen answers, rows ``n..2n-1`` the rejected
        ones, to the same prompts in the same order.
    ref_logprob : Tensor of shape (2 * n,)
        The reference model's :func:`~interp.edits.batches.sequence_logprob` of those rows.
    """

    pairs: AnswerBatch
    ref_logprob: Float[Tensor, "two_n"]

    def __len__(self) -> int:
        return len(self.pairs) // 2

    def to(self, device: str | torch.device) -> PreferenceBatch:
        return PreferenceBatch(pairs=self.pairs.to(device), ref_logprob=self.ref_logprob.to(device))


def dpo_loss(
    policy_chosen: Float[Tensor, "n"],
    policy_rejected: Float[Tensor, "n"],
    ref_chosen: Float[Tensor, "n"],
    ref_rejected: Float[Tensor, "n"],
    *,
    beta: float,
) -> Float[Tensor, ""]:
    """The DPO loss from summed answer log-probs, averaged over the pairs.

    ``-mean log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))``: the four inputs have shape
    (n,) (one summed log-prob per pair), the result shape ().

    Examples
    --------
    >>> z = torch.zeros(3)
    >>> round(float(dpo_loss(z, z, z, z, beta=0.1)), 6)  # policy == reference: log 2
    0.693147
    """
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()


@torch.no_grad()
def preference_batches(
    reference: HookedTransformer,
    prompts: list[str],
    chosen: list[str],
    rejected: list[str],
    *,
    batch_size: int = 8,
    max_length: int | None = None,
    progress: bool = True,
) -> list[PreferenceBatch]:
    """Tokenise (prompt, chosen, rejected) triples into batches and score them with `reference`.

    Parameters
    ----------
    reference : HookedTransformer
        The frozen reference; only read (forward passes under ``no_grad``).
    prompts, chosen, rejected : list of str
        Same length.
    batch_size : int, default=8
        Pairs per batch.
    max_length : int, optional
        As in :func:`~interp.edits.batches.answer_tokens`.
    progress : bool, default=True

    Returns
    -------
    list of PreferenceBatch
        On the reference's device.
    """
    if not len(prompts) == len(chosen) == len(rejected):
        raise ValueError(f"got {len(prompts)} prompts, {len(chosen)} chosen and {len(rejected)} "
                         "rejected answers; they must be the same length")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    n = len(prompts)
    full = answer_tokens(reference, list(prompts) * 2, list(chosen) + list(rejected), max_length=max_length)
    device = next(reference.parameters()).device
    out = []
    for start in tqdm(range(0, n, batch_size), desc="dpo reference", disable=not progress, leave=False):
        idx = list(range(start, min(start + batch_size, n)))
        pairs = full.select(idx + [n + i for i in idx]).to(device)
        out.append(PreferenceBatch(pairs=pairs, ref_logprob=sequence_logprob(reference, pairs).detach()))
    return out


def preference_loss(model: HookedTransformer, batch: PreferenceBatch, *, beta: float) -> Float[Tensor, ""]:
    """:func:`dpo_loss` of `model` (the policy) on one :class:`PreferenceBatch`."""
    n = len(batch)
    logp = sequence_logprob(model, batch.pairs)
    return dpo_loss(logp[:n], logp[n:], batch.ref_logprob[:n], batch.ref_logprob[n:], beta=beta)


def dpo(
    model: HookedTransformer,
    dataset: Any,
    *,
    beta: float = 0.1,
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
    **options: Any,
) -> EditResult:
    """DPO on a copy of `model`: prefer each record's safe generation over its unsafe one.

    Parameters
    ----------
    model : HookedTransformer
        Never changed; it is also the frozen reference (see the module docstring). The copy
        costs one more set of weights, plus gradients and AdamW state for the trained parameters.
    dataset : SafetyDataset, sequence of records, or one record
        Each record needs ``adversarial_prompt``, ``safe_generation`` and
        ``unsafe_generation``; a missing one raises ``ValueError`` naming the record and field.
    beta : float, default=0.1
    seed : int, default=0
    progress : bool, default=True
    device : str or torch.device, optional
        Where the copy trains (and the reference is scored); default the model's device.
    **options
        Other fields of :class:`DPOConfig`; an unknown option raises ``TypeError`` naming it.

    Returns
    -------
    EditResult
        ``method="dpo"``; ``losses[0]`` is ``log 2`` (policy == reference at step 0).

    Examples
    --------
    >>> import interp
    >>> model = interp.load_model("organism")  # doctest: +SKIP
    >>> result = dpo(model, interp.load_dataset("organism", split="train"), steps=50)  # doctest: +SKIP
    >>> round(result.losses[0], 4)  # doctest: +SKIP
    0.6931
    """
    config = DPOConfig.from_options({"beta": beta, **options}, method="dpo")
    triples = record_texts(dataset, DPO_FIELDS, method="dpo")
    prompts, chosen, rejected = (list(col) for col in zip(*triples))

    def make_batches(edited: HookedTransformer) -> list[PreferenceBatch]:
        return preference_batches(edited, prompts, chosen, rejected, batch_size=config.batch_size,
                                  max_length=config.max_length, progress=progress)

    def loss_fn(policy: HookedTransformer, batch: PreferenceBatch) -> Tensor:
        return preference_loss(policy, batch, beta=config.beta)

    return run_edit(model, config, make_batches=make_batches, loss_fn=loss_fn,
                    seed=seed, progress=progress, device=device)
