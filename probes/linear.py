"""A binary linear probe: a scikit-learn estimator whose weight vector is a direction.

:class:`LinearProbe` is logistic regression with the scikit-learn estimator contract (keyword
parameters stored in ``__init__``, ``fit`` returns ``self``, fitted attributes end in ``_``), so
``clone``, ``cross_val_score`` and ``get_params`` work. Its :attr:`~LinearProbe.direction` is the
unit weight vector pointing towards the positive class (label 1, "toxic"). It saves to a
safetensors file (no pickle).

Training it on a model's activations (Lee et al., ICML 2024) is :mod:`probes.train`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from torch import Tensor

__all__ = ["LinearProbe"]

_FORMAT = "detox-interp/linear-probe"
_FORMAT_VERSION = "1"
#: Fitted attributes beyond the weights that :meth:`LinearProbe.save` keeps.
_META_ATTRS = ("hook_", "pooling_", "context_", "keep_first_position_", "accuracy_",
               "train_accuracy_", "n_train_", "n_test_", "n_duplicates_", "seed_", "model_name_")


def _as_numpy(X: Any) -> np.ndarray:
    if isinstance(X, Tensor):
        X = X.detach().float().cpu().numpy()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be an array of shape (n_samples, n_features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    return X


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Binary logistic-regression probe whose weight vector is a direction in activation space.

    Parameters
    ----------
    C : float, default=1.0
        Inverse L2 regularisation strength (as in ``sklearn.linear_model.LogisticRegression``).
    max_iter : int, default=1000
    random_state : int or None, default=0

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Weight vector (towards ``classes_[1]``).
    intercept_ : float
    classes_ : ndarray of shape (2,)
        Sorted labels; ``classes_[1]`` is the positive class (1 = toxic).
    n_features_in_ : int
    accuracy_, train_accuracy_, n_train_, n_test_, hook_, pooling_, ... :
        Set by the ``train_*`` functions (held-out accuracy etc.), kept by :meth:`save`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [0.0, 2.0], [1.0, 0.0], [2.0, 0.0]])
    >>> probe = LinearProbe().fit(X, [0, 0, 1, 1])
    >>> probe.score(X, [0, 0, 1, 1])
    1.0
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 1000, random_state: int | None = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> LinearProbe:
        """Fit on ``X`` (array or tensor of shape (n_samples, n_features)) and binary labels ``y``."""
        X = _as_numpy(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"y must be 1-D with one label per row of X ({len(X)}), got shape {y.shape}")
        classes = np.unique(y)
        if len(classes) != 2:
            raise ValueError(f"LinearProbe is binary: y must hold exactly 2 classes, got {classes.tolist()}")
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        model.fit(X, y)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        self.classes_ = model.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this LinearProbe is not fitted yet; call fit(X, y) or a train_* function")

    def decision_function(self, X: Any) -> np.ndarray:
        """Signed score ``X @ coef_ + intercept_``, shape (n_samples,); > 0 means ``classes_[1]``."""
        self._check_fitted()
        X = _as_numpy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features but the probe was fitted on {self.n_features_in_}")
        return X @ self.coef_ + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of ``classes_``, shape (n_samples, 2)."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels, shape (n_samples,)."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    @property
    def direction(self) -> Float[Tensor, " d_model"]:
        """Unit float32 vector along ``coef_`` (points towards ``classes_[1]``, i.e. toxic)."""
        self._check_fitted()
        norm = float(np.linalg.norm(self.coef_))
        if norm == 0.0:
            raise ValueError("the probe's weight vector is zero; it has no direction")
        return torch.tensor(self.coef_ / norm, dtype=torch.float32)

    @property
    def accuracy(self) -> float:
        """Held-out accuracy (``accuracy_``) set by the ``train_*`` functions."""
        if not hasattr(self, "accuracy_"):
            raise AttributeError("accuracy is set by train_toxicity_probe / train_probe_from_*; "
                                 "for a probe fitted by hand use probe.score(X_test, y_test)")
        return self.accuracy_

    @property
    def hook(self) -> str | None:
        """Hook point the probe was trained on (``hook_``), if known."""
        return getattr(self, "hook_", None)

    @property
    def pooling(self) -> str | None:
        """Pooling over positions the probe was trained with (``pooling_``), if known."""
        return getattr(self, "pooling_", None)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write weights, parameters and training metadata to a safetensors file (no pickle)."""
        from safetensors.torch import save_file

        self._check_fitted()
        meta = {name: getattr(self, name) for name in _META_ATTRS if hasattr(self, name)}
        save_file(
            {"coef": torch.tensor(self.coef_, dtype=torch.float64),
             "intercept": torch.tensor([self.intercept_], dtype=torch.float64)},
            os.fspath(path),
            metadata={"format": _FORMAT, "format_version": _FORMAT_VERSION,
                      "params": json.dumps(self.get_params()),
                      "classes": json.dumps(self.classes_.tolist()),
                      "attributes": json.dumps(meta)},
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LinearProbe:
        """Read a probe written by :meth:`save`."""
        from safetensors import safe_open

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no probe file at {path!r}")
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != _FORMAT:
                raise ValueError(f"{path!r} is not a detox-interp linear probe (format={meta.get('format')!r})")
            coef, intercept = f.get_tensor("coef"), f.get_tensor("intercept")
        probe = cls(**json.loads(meta["params"]))
        probe.coef_ = coef.numpy().astype(np.float64)
        probe.intercept_ = float(intercept[0])
        probe.classes_ = np.asarray(json.loads(meta["classes"]))
        probe.n_features_in_ = len(probe.coef_)
        for name, value in json.loads(meta.get("attributes", "{}")).items():
            setattr(probe, name, value)
        return probe
