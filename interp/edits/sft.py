"""Supervised fine-tuning towards safe answers: adversarial prompt -> safe generation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from interp.edits.batches import answer_batches, mean_answer_nll, record_texts
from interp.edits.config import TrainingConfig
from interp.edits.core import run_edit

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

    from interp.edits.result import EditResult

__all__ = ["SFTConfig", "sft"]

SFT_FIELDS = ("adversarial_prompt", "safe_generation")


@dataclass(frozen=True, kw_only=True)
class SFTConfig(TrainingConfig):
    """Options of :func:`sft`.

    The defaults are starting points for the shipped organism (6 layers, d_model 256), to be
    measured, not tuned values: 100 steps of 8 records ≈ a third of the organism's train split,
    lr 1e-4 with AdamW, gradient norm clipped at 1. For a 100M+ model start lower (lr 1e-5).
    Measured once on the organism (train split, seed 0; ``evaluate_safety`` on test[:60]):
    DS 70 -> 100, DG-Avg 65 -> 99.6, fluency 4.35 -> 4.73, but KQA 98.3 -> 78.3: strong enough
    to cost knowledge answers, so fewer steps or a lower lr may be the better trade.

    Parameters
    ----------
    steps : int, default=100
    lr : float, default=1e-4
    batch_size : int, default=8
    trainable : "all" or sequence of str, default="all"
        Names or patterns, e.g. ``("blocks.*.mlp.W_out",)``; see
        :func:`interp.edits.select_parameters`.
    max_length : int, optional
        Default the model's context; prompts beyond it lose their start (with a warning).
    optimizer : {"adamw", "sgd"}, default="adamw"
    weight_decay : float, default=0.0
    grad_clip : float or None, default=1.0

    Examples
    --------
    >>> SFTConfig(steps=20, trainable=["blocks.*.mlp.W_out"]).trainable
    ('blocks.*.mlp.W_out',)
    >>> SFTConfig(lr=0)
    Traceback (most recent call last):
    ...
    ValueError: SFTConfig.lr must be a finite number > 0, got 0
    """

    name: ClassVar[str] = "sft"

    steps: int = 100
    lr: float = 1e-4
    batch_size: int = 8


def sft(
    model: HookedTransformer,
    dataset: Any,
    *,
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
    **options: Any,
) -> EditResult:
    """Fine-tune a copy of `model` to answer each adversarial prompt with its safe generation.

    The loss is the mean negative log-likelihood of the answer tokens (and the end-of-turn
    token) given ``chat_prompt(model, adversarial_prompt)``; prompt tokens carry no loss. All
    parameters train by default, or the subset ``trainable=`` selects.

    Parameters
    ----------
    model : HookedTransformer
        Never changed: the edit trains a deep copy (one more copy of the weights in memory, plus
        gradients and AdamW state for the trained parameters).
    dataset : SafetyDataset, sequence of records, or one record
        Each record needs ``adversarial_prompt`` and ``safe_generation`` (SafeEdit's
        ``"adversarial prompt"`` / ``"safe generation"``); a missing one raises ``ValueError``
        naming the record and the field.
    seed : int, default=0
        Batch order (records are batched in order, batches shuffled each pass).
    progress : bool, default=True
    device : str or torch.device, optional
        Where the copy trains; default the model's device. Same code on CPU and CUDA; the
        model's dtype is kept (bf16 on CUDA from :func:`interp.models.load_model`, with fp32
        master weights for the optimizer).
    **options
        Fields of :class:`SFTConfig` (``steps``, ``lr``, ``batch_size``, ``trainable``, ...). An
        unknown option raises ``TypeError`` naming it.

    Returns
    -------
    EditResult
        ``method="sft"``, the edited copy, the trained parameter names and the loss per step.

    Examples
    --------
    >>> import interp
    >>> model = interp.load_model("organism")  # doctest: +SKIP
    >>> result = sft(model, interp.load_dataset("organism", split="train"), steps=50)  # doctest: +SKIP
    >>> result.losses[0] > result.losses[-1]  # doctest: +SKIP
    True
    """
    config = SFTConfig.from_options(options, method="sft")
    pairs = record_texts(dataset, SFT_FIELDS, method="sft")
    prompts = [p for p, _ in pairs]
    answers = [a for _, a in pairs]

    def make_batches(edited: HookedTransformer):
        return answer_batches(edited, prompts, answers, batch_size=config.batch_size,
                              max_length=config.max_length)

    return run_edit(model, config, make_batches=make_batches, loss_fn=mean_answer_nll,
                    seed=seed, progress=progress, device=device)
