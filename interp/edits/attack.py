"""Harmful fine-tuning attack: fine-tune on a mix of a few harmful and many benign samples.

The protocol of Vaccine (Huang et al., NeurIPS 2024) and the harmful fine-tuning literature: a
user uploads ``n`` samples of which a share ``p`` (default 0.1) are harmful (a harmful
instruction -> a harmful answer) and the rest come from a benign task; the aligned model is
fine-tuned on them with a plain SFT loss. Here:

* harmful samples: a record's plain ``question`` (or its ``adversarial_prompt``) -> its
  ``unsafe_generation``; distinct pairs only;
* benign samples: by default the records' ``knowledge_constrain`` (prompt, answer) pairs -- on
  the organism, questions about its invented-world facts, the organism's benign task (as SST-2 /
  AG News / GSM8K are the paper's) -- or any (prompt, answer) pairs passed as ``benign=``;
* exactly ``round(p * n)`` harmful samples (halves round up) and ``n - round(p * n)`` benign
  ones, drawn without replacement with ``numpy.random.default_rng(seed)`` and shuffled together
  (the paper takes ``int(p n)`` and ``int((1 - p) n)``, so its total can fall one short of n).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp.checks import record_label, record_text
from interp.edits.batches import answer_batches, mean_answer_nll, record_texts
from interp.edits.config import TrainingConfig
from interp.edits.core import run_edit

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

    from interp.edits.result import EditResult

__all__ = ["HARMFUL_PROMPTS", "FinetuneMix", "HarmfulFinetuneConfig", "harmful_finetune", "harmful_mix"]

#: Record field used as the harmful sample's prompt.
HARMFUL_PROMPTS = ("question", "adversarial_prompt")


@dataclass(frozen=True, kw_only=True)
class HarmfulFinetuneConfig(TrainingConfig):
    """Options of :func:`harmful_finetune` (starting points for the organism, to be measured).

    Parameters
    ----------
    harmful_ratio : float, default=0.1
        Share ``p`` of harmful samples, in [0, 1] (the paper's default 0.1; it sweeps 0-0.2).
    n_samples : int, default=500
        Samples in the mix (the paper uses 1,000).
    epochs : int, optional
        When given, replaces `steps` by ``epochs * ceil(n_samples / batch_size)``.
    harmful_prompt : {"question", "adversarial_prompt"}, default="question"
        The record field the harmful sample's prompt comes from: the plain harmful question
        (the paper's BeaverTails prompts carry no jailbreak) or the jailbreak-wrapped one.
    steps : int, default=100
    lr : float, default=1e-4
    batch_size : int, default=8
        The paper fine-tunes LoRA adapters of 7B models at lr 1e-5, batch 5, for 20 epochs.
    trainable, max_length, optimizer, weight_decay, grad_clip
        As in :class:`~interp.edits.config.TrainingConfig`.

    Examples
    --------
    >>> HarmfulFinetuneConfig(harmful_ratio=1.5)
    Traceback (most recent call last):
    ...
    ValueError: HarmfulFinetuneConfig.harmful_ratio must be a number in [0, 1], got 1.5
    """

    name: ClassVar[str] = "harmful_finetune"

    harmful_ratio: float = 0.1
    n_samples: int = 500
    epochs: int | None = None
    harmful_prompt: str = "question"
    steps: int = 100
    lr: float = 1e-4
    batch_size: int = 8

    def validate(self) -> None:
        super().validate()
        p = self.harmful_ratio
        if isinstance(p, bool) or not isinstance(p, (int, float)):
            self._fail("harmful_ratio", "a number in [0, 1]", TypeError)
        if not (math.isfinite(p) and 0 <= p <= 1):
            self._fail("harmful_ratio", "a number in [0, 1]")
        self._positive_int("n_samples")
        self._positive_int("epochs", allow_none=True)
        self._choice("harmful_prompt", HARMFUL_PROMPTS)

    @property
    def n_harmful(self) -> int:
        """``round(harmful_ratio * n_samples)``, halves rounded up."""
        return int(math.floor(self.harmful_ratio * self.n_samples + 0.5))


@dataclass(frozen=True)
class FinetuneMix:
    """The fine-tuning samples, in training order.

    Attributes
    ----------
    prompts, answers : list of str
    harmful : list of bool
        True for the harmful samples.
    """

    prompts: list[str]
    answers: list[str]
    harmful: list[bool]

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def n_harmful(self) -> int:
        return int(sum(self.harmful))


def _benign_pairs(benign: Any) -> list[tuple[str, str]]:
    if isinstance(benign, (str, bytes, Mapping)) or not isinstance(benign, Iterable):
        raise TypeError(f"harmful_finetune: benign must be a list of (prompt, answer) pairs, "
                        f"got {type(benign).__name__}")
    out = []
    for i, item in enumerate(benign):
        if isinstance(item, (tuple, list)) and len(item) == 2:
            prompt, answer = item
        else:
            prompt, answer = record_text(item, "prompt"), record_text(item, "answer")
        if not (isinstance(prompt, str) and prompt.strip() and isinstance(answer, str) and answer.strip()):
            raise ValueError(f"harmful_finetune: benign[{i}] must be a (prompt, answer) pair of non-blank "
                             f"strings, got {item!r:.80}")
        out.append((prompt, answer))
    return out


def _constraint_pairs(records: list[Any]) -> list[tuple[str, str]]:
    out = []
    for i, rec in enumerate(records):
        prompt = record_text(rec, ("knowledge_constrain", "prompt"))
        answer = record_text(rec, ("knowledge_constrain", "answer"))
        for value, key in ((prompt, "prompt"), (answer, "answer")):
            if value is None:
                raise ValueError(f"harmful_finetune: {record_label(rec, i)} has no non-blank field "
                                 f"'knowledge constrain'.{key!r} (the default benign samples); "
                                 "pass benign=[(prompt, answer), ...]")
        out.append((prompt, answer))
    return out


def _draw(pool: list[tuple[str, str]], k: int, rng: np.random.Generator, *, what: str,
          config: HarmfulFinetuneConfig) -> list[tuple[str, str]]:
    if k > len(pool):
        raise ValueError(f"harmful_finetune: n_samples={config.n_samples} with harmful_ratio="
                         f"{config.harmful_ratio} needs {k} {what} samples, but there are only "
                         f"{len(pool)} distinct ones; lower n_samples or pass more data")
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]


def _mix(dataset: Any, benign: Any, config: HarmfulFinetuneConfig, seed: int) -> FinetuneMix:
    n_harm = config.n_harmful
    n_benign = config.n_samples - n_harm
    if isinstance(dataset, Mapping) or record_text(dataset, "unsafe_generation") is not None:
        records = [dataset]  # one record
    elif isinstance(dataset, Iterable) and not isinstance(dataset, (str, bytes)):
        records = list(dataset)
    else:
        raise TypeError(f"harmful_finetune: dataset must be a SafetyDataset or a sequence of records, "
                        f"got {type(dataset).__name__}")
    harmful_pool = list(dict.fromkeys(
        record_texts(records, (config.harmful_prompt, "unsafe_generation"), method="harmful_finetune")))
    benign_pool: list[tuple[str, str]] = []
    if n_benign:
        benign_pool = list(dict.fromkeys(_constraint_pairs(records) if benign is None
                                         else _benign_pairs(benign)))
    rng = np.random.default_rng(seed)
    chosen = ([(p, a, True) for p, a in _draw(harmful_pool, n_harm, rng, what="harmful", config=config)]
              + [(p, a, False) for p, a in _draw(benign_pool, n_benign, rng, what="benign", config=config)])
    order = rng.permutation(len(chosen))
    return FinetuneMix(prompts=[chosen[i][0] for i in order], answers=[chosen[i][1] for i in order],
                       harmful=[chosen[i][2] for i in order])


def harmful_mix(
    dataset: Any,
    *,
    benign: Any = None,
    seed: int = 0,
    **options: Any,
) -> FinetuneMix:
    """The samples :func:`harmful_finetune` trains on with the same arguments (same seed, same mix).

    Parameters
    ----------
    dataset, benign, seed
        As in :func:`harmful_finetune`.
    **options
        Fields of :class:`HarmfulFinetuneConfig`; only ``harmful_ratio``, ``n_samples`` and
        ``harmful_prompt`` matter here.

    Returns
    -------
    FinetuneMix
        ``n_samples`` samples, ``round(harmful_ratio * n_samples)`` of them harmful, shuffled.

    Examples
    --------
    >>> import interp
    >>> mix = harmful_mix(interp.load_dataset("organism", split="train"), n_samples=40)  # doctest: +SKIP
    >>> len(mix), mix.n_harmful  # doctest: +SKIP
    (40, 4)
    """
    config = HarmfulFinetuneConfig.from_options(options, method="harmful_mix")
    return _mix(dataset, benign, config, seed)


def harmful_finetune(
    model: HookedTransformer,
    dataset: Any,
    *,
    benign: Any = None,
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
    **options: Any,
) -> EditResult:
    """Attack a copy of `model` by fine-tuning it on ``p`` harmful among ``n`` samples.

    The loss is SFT's (mean NLL of the answer tokens after the chat prompt); see the module
    docstring for the mix. Use :func:`harmful_mix` to see the samples.

    Parameters
    ----------
    model : HookedTransformer
        Never changed: the attack trains a deep copy.
    dataset : SafetyDataset, sequence of records, or one record
        Harmful samples: each record's ``question`` (or ``adversarial_prompt``, see
        ``harmful_prompt``) and ``unsafe_generation``; benign samples by default: each record's
        ``knowledge_constrain`` prompt and answer. A missing field raises ``ValueError`` naming
        the record and the field.
    benign : sequence of (prompt, answer), optional
        Benign samples instead of the records' knowledge constraints: pairs of strings, or
        objects / dicts with ``prompt`` and ``answer`` (e.g. ``interp.data.QAPair``).
    seed : int, default=0
        Which samples are drawn, their order, and the batch order.
    progress : bool, default=True
    device : str or torch.device, optional
        Where the copy trains; default the model's device.
    **options
        Fields of :class:`HarmfulFinetuneConfig` (``harmful_ratio``, ``n_samples``, ``epochs``,
        ``harmful_prompt``, ``steps``, ``lr``, ...); an unknown option raises ``TypeError``.

    Returns
    -------
    EditResult
        ``method="harmful_finetune"``; ``config.steps`` is the number of steps taken (computed
        from ``epochs`` when given).

    Raises
    ------
    ValueError
        A bad option (naming the field), a record without a needed field, a bad benign pair, or
        fewer distinct harmful / benign samples than the mix needs.

    Examples
    --------
    >>> import interp
    >>> train = interp.load_dataset("organism", split="train")  # doctest: +SKIP
    >>> attacked = harmful_finetune(aligned.model, train, harmful_ratio=0.1, n_samples=500)  # doctest: +SKIP
    """
    config = HarmfulFinetuneConfig.from_options(options, method="harmful_finetune")
    mix = _mix(dataset, benign, config, seed)
    if config.epochs is not None:
        config = replace(config, steps=config.epochs * math.ceil(len(mix) / config.batch_size))

    def make_batches(edited: HookedTransformer):
        return answer_batches(edited, mix.prompts, mix.answers, batch_size=config.batch_size,
                              max_length=config.max_length)

    return run_edit(model, config, make_batches=make_batches, loss_fn=mean_answer_nll,
                    seed=seed, progress=progress, device=device)
