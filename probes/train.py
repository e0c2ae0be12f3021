"""Training the toxicity probe of Lee et al. (ICML 2024) on a model's activations.

:func:`train_toxicity_probe` trains it on a SafeEdit-style dataset: each record's unsafe
generation is a toxic text (label 1), its safe generation a non-toxic one (label 0). Lee et al.
trained on Jigsaw comments, i.e. text alone, so by default the probe sees **the response text
alone** (no prompt, no chat format; ``context="response"``), mean-pooled over its positions at
the last block's residual output. ``context="chat"`` instead runs
``chat_sequence(prompt, response)`` and pools over the response tokens only. The first position
of each text is left out of the mean by default (``keep_first_position=False``): models such as
GPT-2 and SmolLM2 put "massive activations" there, which would otherwise dominate the mean.

:func:`train_probe_from_texts` (labelled texts) and :func:`train_probe_from_csv` (e.g. Jigsaw)
train the same :class:`~probes.linear.LinearProbe` on other data. Activations are read with
:func:`interp.activations.collect_activations`; the model is never changed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor

from interp.activations import (LastToken, MeanOverPositions, PositionSelect, collect_activations,
                                collect_from_texts, tokenize_chat)
from interp.checks import check_texts, record_field, record_label, record_text
from interp.hooks import check_hook_names, resid_post
from probes.linear import LinearProbe

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["train_probe_from_csv", "train_probe_from_texts", "train_toxicity_probe"]

POOLINGS: tuple[str, ...] = ("mean", "last")
CONTEXTS: tuple[str, ...] = ("response", "chat")


def _default_hook(model: HookedTransformer, hook: str | None) -> str:
    name = resid_post(model.cfg.n_layers - 1) if hook is None else hook
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
        Default: the last block's residual output ``interp.hooks.resid_post(n_layers - 1)``
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
    texts = check_texts(texts, what="texts", allow_empty_list=False, non_blank=True)
    y = _binary_labels(labels)
    if len(y) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(y)} labels")
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
        Default ``interp.hooks.resid_post(n_layers - 1)``; or e.g. ``"ln_final.hook_normalized"``.
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
        values: dict[str, str] = {}
        for field in fields:
            value = record_text(rec, field)
            if value is None:
                raise ValueError(f"{record_label(rec, i)}: field {field!r} must be a non-empty "
                                 f"string, got {record_field(rec, field)!r}")
            values[field] = value
        for field, label in (("unsafe_generation", 1), ("safe_generation", 0)):
            prompts.append(values["adversarial_prompt"] if context == "chat" else "")
            responses.append(values[field])
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
