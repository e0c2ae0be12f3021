"""Config dataclasses shared by the edit methods (STYLE E7).

:class:`EditConfig` gives every method's config the same contract: frozen, keyword-only,
validated in ``__post_init__`` with the field named, :meth:`~EditConfig.from_dict` and
:meth:`~EditConfig.from_options` refusing unknown keys (never dropping them silently), and
:meth:`~EditConfig.to_dict`. :class:`TrainingConfig` adds the fields of the training core
(:func:`interp.edits.core.train`): steps, learning rate, batch size, trainable parameters, ...
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

__all__ = ["EditConfig", "TrainingConfig"]


@dataclass(frozen=True, kw_only=True)
class EditConfig:
    """Base of every edit method's config: validation, ``from_dict``, ``to_dict``.

    Subclasses set the class attribute ``name`` (the registry name) and validate their own
    fields in :meth:`validate` with the helpers ``_positive_int`` etc., which name the field.
    """

    name: ClassVar[str] = "edit"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first bad field (subclasses extend)."""

    # -- helpers for validate(): each names the field and what it got --------------------------

    def _fail(self, field: str, expected: str, exc: type[Exception] = ValueError) -> None:
        value = getattr(self, field)
        raise exc(f"{type(self).__name__}.{field} must be {expected}, got {value!r}")

    def _positive_int(self, field: str, *, allow_none: bool = False, minimum: int = 1) -> None:
        value = getattr(self, field)
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(field, f"an int >= {minimum}" + (" or None" if allow_none else ""), TypeError)
        if value < minimum:
            self._fail(field, f"an int >= {minimum}" + (" or None" if allow_none else ""))

    def _positive_float(self, field: str, *, allow_none: bool = False, allow_zero: bool = False) -> None:
        value = getattr(self, field)
        if value is None and allow_none:
            return
        what = ("a finite number >= 0" if allow_zero else "a finite number > 0") + (
            " or None" if allow_none else "")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._fail(field, what, TypeError)
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            self._fail(field, what)

    def _choice(self, field: str, choices: tuple[str, ...]) -> None:
        if getattr(self, field) not in choices:
            self._fail(field, f"one of {list(choices)}")

    # -- construction and export ---------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EditConfig:
        """Build from a dict (e.g. :meth:`to_dict` output); unknown keys raise ``TypeError``.

        Examples
        --------
        >>> from interp.edits import SFTConfig
        >>> SFTConfig.from_dict({"steps": 5}).steps
        5
        >>> SFTConfig.from_dict({"step": 5})
        Traceback (most recent call last):
        ...
        TypeError: SFTConfig: unknown key 'step' (did you mean 'steps'?); valid keys: 'batch_size', ...
        """
        if not isinstance(d, dict):
            raise TypeError(f"{cls.__name__}.from_dict expects a dict, got {type(d).__name__}")
        cls._check_keys(d, what="key")
        return cls(**d)

    @classmethod
    def from_options(cls, options: dict[str, Any], *, method: str | None = None) -> EditConfig:
        """Build from a method's ``**options``; an unknown option raises ``TypeError`` naming it."""
        cls._check_keys(options, what="option", method=method)
        return cls(**options)

    @classmethod
    def _check_keys(cls, d: dict[str, Any], *, what: str, method: str | None = None) -> None:
        valid = sorted(f.name for f in fields(cls))
        unknown = sorted(set(d) - set(valid), key=str)
        if not unknown:
            return
        key = unknown[0]
        near = difflib.get_close_matches(str(key), valid, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        shown = ", ".join(repr(v) for v in valid[:5]) + (", ..." if len(valid) > 5 else "")
        where = f"{method}()" if method else cls.__name__
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise TypeError(f"{where}: unknown {what} {key!r}{hint}{more}; valid {what}s: {shown}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (tuples become lists).

        Examples
        --------
        >>> from interp.edits import SFTConfig
        >>> SFTConfig(trainable=["blocks.*.mlp.W_out"]).to_dict()["trainable"]
        ['blocks.*.mlp.W_out']
        """
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, kw_only=True)
class TrainingConfig(EditConfig):
    """The fields of the training core, shared by the methods that train on a dataset.

    Parameters
    ----------
    steps : int
        Optimizer steps (batches are cycled, reshuffled each pass with the seed).
    lr : float
        Learning rate.
    batch_size : int
        Records per optimizer step.
    trainable : "all", or sequence of str
        Parameter names or patterns (``"blocks.*.mlp.W_out"``, ``"re:blocks\\.[0-2]\\..*"``), see
        :func:`interp.edits.select_parameters`. Stored as a tuple.
    max_length : int, optional
        Longest training sequence in tokens; default the model's context. Longer sequences lose
        their first tokens (the prompt's start) with a warning.
    optimizer : {"adamw", "sgd"}
    weight_decay : float
        AdamW's decoupled weight decay (0 by default, unlike torch's 0.01).
    grad_clip : float, optional
        Clip the global gradient norm of the trained parameters to this value.
    """

    steps: int = 100
    lr: float = 1e-4
    batch_size: int = 8
    trainable: str | tuple[str, ...] = "all"
    max_length: int | None = None
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0

    def validate(self) -> None:
        super().validate()
        self._positive_int("steps")
        self._positive_float("lr")
        self._positive_int("batch_size")
        self._positive_int("max_length", allow_none=True, minimum=2)
        self._choice("optimizer", ("adamw", "sgd"))
        self._positive_float("weight_decay", allow_zero=True)
        self._positive_float("grad_clip", allow_none=True)
        trainable = self.trainable
        if not isinstance(trainable, str):
            try:
                trainable = tuple(trainable)
            except TypeError:
                self._fail("trainable", '"all" or a sequence of parameter names / patterns', TypeError)
            if not trainable or not all(isinstance(t, str) and t for t in trainable):
                self._fail("trainable", "a non-empty sequence of non-empty strings")
            object.__setattr__(self, "trainable", trainable)
        elif not trainable:
            self._fail("trainable", '"all", a parameter name or a pattern')

    def train_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`interp.edits.core.train` taken from this config."""
        return {"trainable": self.trainable, "steps": self.steps, "lr": self.lr,
                "optimizer": self.optimizer, "weight_decay": self.weight_decay,
                "grad_clip": self.grad_clip}
