"""A binary linear probe (scikit-learn estimator) and the toxicity probe of Lee et al. (ICML 2024).

:class:`LinearProbe` is logistic regression with the scikit-learn estimator contract (keyword
parameters stored in ``__init__``, ``fit`` returns ``self``, fitted attributes end in ``_``), so
``clone``, ``cross_val_score`` and ``get_params`` work. Its :attr:`~LinearProbe.direction` is the
unit weight vector pointing towards the positive class (label 1, "toxic"). It saves to a
safetensors file (no pickle).

:func:`train_toxicity_probe` trains it on a SafeEdit-style dataset: each record's unsafe
generation is a toxic text (label 1), its safe generation a non-toxic one (label 0). Lee et al.
trained on Jigsaw comments, i.e. text alone, so by default the probe sees **the response text
alone** (no prompt, no chat format; ``context="response"``), mean-pooled over its positions at
the last block's residual output. ``context="chat"`` instead runs
``chat_sequence(prompt, response)`` and pools over the response tokens only. The first position
of each text is left out of the mean by default (``keep_first_position=False``): models such as
GPT-2 and SmolLM2 put "massive activations" there, which would otherwise dominate the mean.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from jaxtyping import Float
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from torch import Tensor

from interp.activations import (LastToken, MeanOverPositions, PositionSelect, collect_activations,
                                collect_from_texts, tokenize_chat)
from interp.hooks import check_hook_names

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["LinearProbe", "train_probe_from_csv", "train_probe_from_texts", "train_toxicity_probe"]

_FORMAT = "detox-interp/linear-probe"
_FORMAT_VERSION = "1"
#: Fitted attributes beyond the weights that :meth:`LinearProbe.save` keeps.
_META_ATTRS = ("hook_", "pooling_", "context_", "keep_first_position_", "accuracy_",
               "train_accuracy_", "n_train_", "n_test_", "n_duplicates_", "seed_", "model_name_")
POOLINGS: tuple[str, ...] = ("mean", "last")
CONTEXTS: tuple[str, ...] = ("response", "chat")


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


# ---------------------------------------------------------------------------------------------
# training on model activations
# ---------------------------------------------------------------------------------------------


def _default_hook(model: HookedTransformer, hook: str | None) -> str:
    name = f"blocks.{model.cfg.n_layers - 1}.hook_resid_post" if hook is None else hook
    check_hook_names(model, [name])
    return name


def _binary_labels(labels: Iterable[Any], *, what: str = "labels") -> np.ndarray:
    values = list(labels)
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            out[i] = int(v)
        elif isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1):
            out[i] = int(v)
        else:
            seen = sorted({repr(x) for x in values})[:5]
            raise ValueError(f"{what} must be binary (0/1 or bool); item #{i} is {v!r} "
                             f"(values seen: {', '.join(seen)}{', ...' if len(seen) == 5 else ''})")
    return out


def _split(n: int, y: np.ndarray, test_size: float, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 <= test_size < 1:
        raise ValueError(f"test_size must be a fraction in [0, 1), got {test_size!r}")
    index = np.arange(n)
    if test_size == 0:
        return index, index[:0]
    n_test = max(2, math.ceil(test_size * n))
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2 or n - n_test < 2:
        raise ValueError(f"too few texts for a stratified held-out split: {counts[0]} of label 0 and "
                         f"{counts[1]} of label 1 with test_size={test_size}; need at least 2 of "
                         "each and a test set smaller than the data (or pass test_size=0)")
    train, test = train_test_split(index, test_size=n_test, stratify=y, random_state=seed)
    return np.sort(train), np.sort(test)


def _fit(features: Tensor, y: np.ndarray, *, test_size: float, seed: int | None, C: float,
         max_iter: int) -> LinearProbe:
    if len(np.unique(y)) != 2:
        raise ValueError(f"need texts of both labels (0 and 1), got only label {int(y[0])}")
    train, test = _split(len(y), y, test_size, seed)
    X = features.double().numpy()
    probe = LinearProbe(C=C, max_iter=max_iter, random_state=seed).fit(X[train], y[train])
    probe.train_accuracy_ = float(probe.score(X[train], y[train]))
    probe.accuracy_ = float(probe.score(X[test], y[test])) if len(test) else float("nan")
    probe.n_train_, probe.n_test_ = int(len(train)), int(len(test))
    return probe


def _dedupe(keys: Sequence[Any], labels: np.ndarray) -> tuple[list[int], int]:
    seen: set[tuple[Any, int]] = set()
    keep: list[int] = []
    for i, (key, label) in enumerate(zip(keys, labels)):
        if (key, int(label)) not in seen:
            seen.add((key, int(label)))
            keep.append(i)
    return keep, len(keys) - len(keep)


def _check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; valid: {list(POOLINGS)}")


def train_probe_from_texts(
    model: HookedTransformer,
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    hook: str | None = None,
    pooling: str = "mean",
    keep_first_position: bool = False,
    drop_duplicates: bool = True,
    test_size: float = 0.1,
    seed: int | None = 0,
    C: float = 1.0,
    max_iter: int = 1000,
    batch_size: int = 16,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> LinearProbe:
    """Train a probe on labelled texts (e.g. Jigsaw comments), each fed to the model as it is.

    Parameters
    ----------
    model : HookedTransformer
        With a tokenizer (from :func:`interp.load_model`).
    texts : sequence of str
    labels : sequence of {0, 1} or bool
        1 = toxic (the probe's direction points towards it).
    hook : str, optional
        Default: the last block's residual output ``f"blocks.{n_layers - 1}.hook_resid_post"``
        (before ``ln_final``). ``"ln_final.hook_normalized"`` reads after the final norm (in
        TransformerLens: normalised, before its elementwise weight and bias).
    pooling : {"mean", "last"}, default="mean"
        Mean over the text's tokens, or its last token.
    keep_first_position : bool, default=False
        Include each text's first token in the mean (see the module docstring).
    drop_duplicates : bool, default=True
        Keep one copy of identical (text, label) pairs, so that a repeated text cannot sit in
        both the training and the held-out split (``n_duplicates_`` counts the dropped ones).
    test_size : float, default=0.1
        Held-out fraction, stratified by label (9:1); 0 fits on everything (``accuracy_`` NaN).
    seed : int or None, default=0
        Seeds the split and the solver.
    C, max_iter : see :class:`LinearProbe`
    batch_size, progress, device : see :func:`interp.activations.collect_activations`

    Returns
    -------
    LinearProbe
        Fitted, with ``accuracy_`` (held-out), ``train_accuracy_``, ``n_train_``, ``n_test_``,
        ``hook_``, ``pooling_`` set.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty")
    y = _binary_labels(labels)
    if len(y) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(y)} labels")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text #{i} must be a non-empty string, got {text!r}")
    _check_pooling(pooling)
    name = _default_hook(model, hook)
    keep, n_dup = _dedupe(texts, y) if drop_duplicates else (list(range(len(texts))), 0)
    texts, y = [texts[i] for i in keep], y[keep]
    reducer = MeanOverPositions() if pooling == "mean" else LastToken()
    feats = collect_from_texts(model, texts, hook_names=[name], reducer=reducer,
                               keep_first_position=keep_first_position or pooling == "last",
                               batch_size=batch_size, progress=progress, device=device)[name]
    probe = _fit(feats, y, test_size=test_size, seed=seed, C=C, max_iter=max_iter)
    probe.hook_, probe.pooling_, probe.context_ = name, pooling, "text"
    probe.keep_first_position_, probe.n_duplicates_, probe.seed_ = keep_first_position, n_dup, seed
    probe.model_name_ = model.cfg.model_name
    return probe


def train_toxicity_probe(
    model: HookedTransformer,
    dataset: Iterable[Any],
    *,
    hook: str | None = None,
    pooling: str = "mean",
    context: str = "response",
    keep_first_position: bool = False,
    test_size: float = 0.1,
    seed: int | None = 0,
    C: float = 1.0,
    max_iter: int = 1000,
    batch_size: int = 16,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> LinearProbe:
    """Lee et al.'s toxicity probe, trained on a dataset's unsafe (1) vs safe (0) generations.

    Parameters
    ----------
    model : HookedTransformer
    dataset : SafetyDataset or iterable of SafetyRecord
        Every record needs ``safe_generation`` and ``unsafe_generation`` (and
        ``adversarial_prompt`` for ``context="chat"``).
    hook : str, optional
        Default ``f"blocks.{n_layers - 1}.hook_resid_post"``; or e.g. ``"ln_final.hook_normalized"``.
    pooling : {"mean", "last"}, default="mean"
    context : {"response", "chat"}, default="response"
        ``"response"``: the generation text alone (as Lee et al.'s comment texts).
        ``"chat"``: ``chat_sequence(adversarial_prompt, generation)``, pooled over the
        response tokens only (``"last"`` = the end-of-turn token).
    keep_first_position : bool, default=False
        Only for ``context="response"``: include each text's first token in the mean.
    test_size : float, default=0.1
        Held-out fraction, stratified (9:1 by default). Identical (text, label) pairs are kept
        once before splitting (refusals repeat across records).
    seed, C, max_iter, batch_size, progress, device : see :func:`train_probe_from_texts`

    Returns
    -------
    LinearProbe
        ``probe.direction`` (unit, towards toxic), ``probe.accuracy_`` (held-out),
        ``train_accuracy_``, ``n_train_``, ``n_test_``, ``hook_``, ``pooling_``, ``context_``.

    Raises
    ------
    ValueError
        Empty dataset, a record without the needed fields (named by index and id), unknown
        ``pooling``/``context``, too few texts for the split.
    """
    if context not in CONTEXTS:
        raise ValueError(f"unknown context {context!r}; valid: {list(CONTEXTS)}")
    _check_pooling(pooling)
    records = list(dataset)
    if not records:
        raise ValueError("dataset is empty; train_toxicity_probe needs records with safe and "
                         "unsafe generations")
    prompts, responses, labels = [], [], []
    fields = ("safe_generation", "unsafe_generation") + (("adversarial_prompt",) if context == "chat" else ())
    for i, rec in enumerate(records):
        for field in fields:
            value = getattr(rec, field, None)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"record #{i} (id={getattr(rec, 'id', None)!r}): field {field!r} "
                                 f"must be a non-empty string, got {value!r}")
        for field, label in (("unsafe_generation", 1), ("safe_generation", 0)):
            prompts.append(getattr(rec, "adversarial_prompt", "") if context == "chat" else "")
            responses.append(getattr(rec, field))
            labels.append(label)
    if context == "response":
        probe = train_probe_from_texts(
            model, responses, labels, hook=hook, pooling=pooling,
            keep_first_position=keep_first_position, test_size=test_size, seed=seed, C=C,
            max_iter=max_iter, batch_size=batch_size, progress=progress, device=device)
        probe.context_ = "response"
        return probe

    name = _default_hook(model, hook)
    y = np.asarray(labels, dtype=np.int64)
    keep, n_dup = _dedupe(list(zip(prompts, responses)), y)
    chat = tokenize_chat(model, [prompts[i] for i in keep], [responses[i] for i in keep])
    y = y[keep]
    positions = chat.response_mask if pooling == "mean" else chat.end_mask
    feats = collect_activations(model, chat.tokenized, hook_names=[name],
                                reducer=PositionSelect(positions), batch_size=batch_size,
                                progress=progress, device=device)[name]
    probe = _fit(feats, y, test_size=test_size, seed=seed, C=C, max_iter=max_iter)
    probe.hook_, probe.pooling_, probe.context_ = name, pooling, "chat"
    probe.keep_first_position_, probe.n_duplicates_, probe.seed_ = False, n_dup, seed
    probe.model_name_ = model.cfg.model_name
    return probe


def train_probe_from_csv(
    model: HookedTransformer,
    path: str | os.PathLike[str],
    *,
    text_column: str = "text",
    label_column: str = "label",
    threshold: float | None = None,
    **options: Any,
) -> LinearProbe:
    """Train a probe on a CSV of labelled texts (e.g. Jigsaw's ``comment_text`` / ``toxic``).

    Parameters
    ----------
    model : HookedTransformer
    path : path-like
        A CSV file with a header row.
    text_column : str, default="text"
    label_column : str, default="label"
        Binary 0/1 (or true/false) labels, 1 = toxic; or scores with ``threshold``.
    threshold : float, optional
        Label = ``score >= threshold`` (for fractional toxicity scores, e.g. 0.5).
    **options
        Passed to :func:`train_probe_from_texts` (``hook``, ``pooling``, ``test_size``, ...).

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, missing column (the available ones are listed), empty text or missing
        label (row named), non-binary labels without ``threshold``.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no CSV file at {path!r}")
    frame = pd.read_csv(path)
    for column in (text_column, label_column):
        if column not in frame.columns:
            raise ValueError(f"{path}: no column {column!r}; columns are {list(frame.columns)} "
                             "(pass text_column= / label_column=)")
    if frame.empty:
        raise ValueError(f"{path}: the CSV has no rows")
    texts = frame[text_column]
    bad = texts.isna() | ~texts.map(lambda t: isinstance(t, str) and bool(t.strip()))
    if bad.any():
        raise ValueError(f"{path}: row {int(bad.to_numpy().nonzero()[0][0])} (0-based, after the "
                         f"header) has an empty or missing {text_column!r}")
    raw = frame[label_column]
    if raw.isna().any():
        raise ValueError(f"{path}: row {int(raw.isna().to_numpy().nonzero()[0][0])} has no {label_column!r}")
    if threshold is not None:
        try:
            labels = (pd.to_numeric(raw) >= threshold).astype(int).tolist()
        except (ValueError, TypeError):
            raise ValueError(f"{path}: column {label_column!r} must be numeric to use threshold") from None
    else:
        lowered = raw.map(lambda v: {"true": 1, "false": 0}.get(v.strip().lower(), v) if isinstance(v, str) else v)
        labels = _binary_labels(lowered.tolist(), what=f"{path}: column {label_column!r}")
    return train_probe_from_texts(model, texts.tolist(), labels, **options)
