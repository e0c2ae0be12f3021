"""One function picks the judge for a model: :func:`default_judge`."""

from __future__ import annotations

import warnings
from typing import Any

from interp.evaluate.judges.organism import ORGANISM_JUDGE_NAME, organism_judge
from interp.evaluate.judges.protocol import Judge, check_judge
from interp.evaluate.judges.real_text import real_judge

__all__ = ["default_judge", "resolve_judge", "SMOLLM2_MODEL_NAME"]

#: ``model.cfg.model_name`` of SmolLM2-135M-Instruct, whose answers the real-text judge was measured on.
SMOLLM2_MODEL_NAME = "smollm2-135m-instruct"


def _model_name(model: Any) -> str | None:
    if model is None or isinstance(model, str):
        return model
    return getattr(getattr(model, "cfg", None), "model_name", None)


def default_judge(model: Any = None) -> Judge:
    """The judge every entry point uses when ``judge=`` is not given.

    Parameters
    ----------
    model : HookedTransformer, str or None
        A model (its ``cfg.model_name`` decides) or a model name. ``None`` and ``"organism"``
        give the organism's judge (:func:`~interp.evaluate.judges.organism.organism_judge`);
        any other model gets the real-text judge (:func:`~interp.evaluate.judges.real_judge`),
        with a ``UserWarning`` unless it is SmolLM2-135M-Instruct, because that judge's error
        was measured on SmolLM2's answers only.

    Returns
    -------
    Judge
        Loaded from package data (never refitted), with its measured ``error``.

    Examples
    --------
    >>> default_judge("organism").name
    'organism'
    """
    name = _model_name(model)
    if name is None or name == ORGANISM_JUDGE_NAME:
        return organism_judge()
    judge = real_judge()
    if name != SMOLLM2_MODEL_NAME:
        warnings.warn(f"judging {name!r} with the real-text judge {judge.name!r}, whose error was measured on "
                      "SmolLM2-135M-Instruct's answers; check it on a few hand labels of this model's answers "
                      "(interp.evaluate.judge_report) or pass judge=", UserWarning, stacklevel=3)
    return judge


def resolve_judge(judge: Any, model: Any, *, refusal: bool = False, where: str = "judge") -> Judge:
    """`judge` checked, or :func:`default_judge` for `model` when it is None."""
    if judge is None:
        judge = default_judge(model)
    return check_judge(judge, where=where, refusal=refusal)
