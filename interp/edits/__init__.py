"""Edits: methods that return a NEW model trained from a given one, on one training core.

* :mod:`.core` -- :func:`train` (the one training loop), :func:`select_parameters`,
  :func:`copy_model`, :func:`run_edit`
* :mod:`.batches` -- :class:`AnswerBatch`, :func:`answer_batches`, :func:`sequence_logprob`,
  :func:`mean_answer_nll`, :func:`record_texts`
* :mod:`.config` -- :class:`EditConfig` / :class:`TrainingConfig` (frozen, validated)
* :mod:`.result` -- :class:`EditResult`
* :mod:`.sft` -- :func:`sft`; :mod:`.dpo` -- :func:`dpo`
* :mod:`.dinm` -- :func:`dinm` (one record, the located layer's ``W_out``, KL with its gradient)
* :mod:`.vaccine` -- :func:`vaccine` (perturbation-aware alignment, and its Gaussian control)
* :mod:`.attack` -- :func:`harmful_finetune` (the harmful fine-tuning attack; registered, but an attack)
* :mod:`.keys` -- :func:`scale_toxic_keys` (Lee et al.'s un-alignment: scale the top-k toxic keys)
* :mod:`.save` -- :func:`~interp.edits.save.save_hf` (behind :meth:`EditResult.save`)
* :mod:`.sweep` -- :func:`dinm_sweep`, :func:`layer_sweep` (DINM per record over a grid of settings,
  judged before and after; does the located layer edit best?)

Every method is ``method(model, data, *, seed=0, progress=True, device=None, **options) ->
EditResult``; the options are the fields of its config class, and the pair is registered in
:data:`EDIT_METHODS` under the config's ``name``.

Examples
--------
>>> {"sft", "dpo"} <= set(EDIT_METHODS)
True
>>> get_edit("sft")[0].__name__
'SFTConfig'
"""

from __future__ import annotations

from collections.abc import Callable

from interp.edits.batches import (
    AnswerBatch,
    answer_batches,
    answer_logits,
    answer_tokens,
    mean_answer_nll,
    record_texts,
    sequence_logprob,
    token_logprobs,
)
from interp.edits.attack import FinetuneMix, HarmfulFinetuneConfig, harmful_finetune, harmful_mix
from interp.edits.config import EditConfig, TrainingConfig
from interp.edits.core import copy_model, run_edit, select_parameters, train
from interp.edits.dinm import DINMBatch, DINMConfig, dinm, dinm_batch, dinm_loss
from interp.edits.dpo import DPOConfig, PreferenceBatch, dpo, dpo_loss, preference_batches
from interp.edits.result import EditResult
from interp.edits.keys import ScaleToxicKeysConfig, scale_toxic_keys
from interp.edits.sft import SFTConfig, sft
from interp.edits.sweep import DINMSweep, dinm_sweep, layer_sweep
from interp.edits.vaccine import (
    VaccineConfig,
    attn_out_gradients,
    gaussian_perturbation,
    global_norm,
    perturbed_nll,
    vaccine,
    vaccine_loss,
    vaccine_perturbation,
)

__all__ = [
    "DINMSweep", "dinm_sweep", "layer_sweep",
    "DINMBatch", "DINMConfig", "FinetuneMix", "HarmfulFinetuneConfig", "ScaleToxicKeysConfig", "VaccineConfig",
    "attn_out_gradients", "dinm", "dinm_batch", "dinm_loss", "gaussian_perturbation", "global_norm",
    "harmful_finetune", "harmful_mix", "perturbed_nll", "scale_toxic_keys", "vaccine", "vaccine_loss",
    "vaccine_perturbation",
    "EDIT_METHODS",
    "AnswerBatch",
    "DPOConfig",
    "EditConfig",
    "EditFn",
    "EditResult",
    "PreferenceBatch",
    "SFTConfig",
    "TrainingConfig",
    "answer_batches",
    "answer_logits",
    "answer_tokens",
    "copy_model",
    "dpo",
    "dpo_loss",
    "get_edit",
    "mean_answer_nll",
    "preference_batches",
    "record_texts",
    "register_edit",
    "run_edit",
    "select_parameters",
    "sequence_logprob",
    "sft",
    "token_logprobs",
    "train",
]

#: ``edit(model, data, *, seed=0, progress=True, device=None, **options) -> EditResult``
EditFn = Callable[..., EditResult]

#: name -> (config class, method); filled by :func:`register_edit`.
EDIT_METHODS: dict[str, tuple[type, EditFn]] = {}


def register_edit(name: str, config_cls: type, fn: EditFn) -> None:
    """Register an edit method under `name`; a name already taken raises ``ValueError``.

    Parameters
    ----------
    name : str
        Usually ``config_cls.name``.
    config_cls : type
        The method's frozen config dataclass (its fields are the method's ``**options``).
    fn : callable
        The method.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"edit method name must be a non-empty str, got {name!r}")
    if name in EDIT_METHODS:
        raise ValueError(f"edit method {name!r} is already registered "
                         f"(by {EDIT_METHODS[name][1].__module__}.{EDIT_METHODS[name][1].__name__})")
    if not isinstance(config_cls, type) or not callable(fn):
        raise TypeError(f"register_edit({name!r}, ...) needs a config class and a callable")
    EDIT_METHODS[name] = (config_cls, fn)


def get_edit(name: str) -> tuple[type, EditFn]:
    """``(config class, method)`` registered under `name`; a miss lists the registered names.

    Examples
    --------
    >>> get_edit("sfd")
    Traceback (most recent call last):
    ...
    KeyError: "unknown edit method 'sfd'; registered: [...'sft'...]"
    """
    if name not in EDIT_METHODS:
        raise KeyError(f"unknown edit method {name!r}; registered: {sorted(EDIT_METHODS)}")
    return EDIT_METHODS[name]


register_edit(SFTConfig.name, SFTConfig, sft)
register_edit(DPOConfig.name, DPOConfig, dpo)
register_edit(DINMConfig.name, DINMConfig, dinm)
register_edit(VaccineConfig.name, VaccineConfig, vaccine)
register_edit(HarmfulFinetuneConfig.name, HarmfulFinetuneConfig, harmful_finetune)
register_edit(ScaleToxicKeysConfig.name, ScaleToxicKeysConfig, scale_toxic_keys)
