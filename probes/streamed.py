"""A linear probe fitted on activations on disk, reading one shard at a time.

:func:`train_probe_from_shards` minimises the objective of :class:`~probes.linear.LinearProbe`
(scikit-learn's L2 logistic regression: ``C * sum(log-loss) + ||w||^2 / 2``, the intercept not
penalised) with L-BFGS, computing the loss and its gradient by streaming the shards of
:class:`~interp.activations.ActivationShards`: memory holds one shard, whatever the set's size;
each solver iteration reads the folder once. On a set that fits in memory it gives the same
probe as ``LinearProbe().fit`` (to the solvers' tolerance).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from probes.linear import LinearProbe

__all__ = ["train_probe_from_shards"]


def _held_out(y: np.ndarray, test_size: float, seed: int | None) -> np.ndarray:
    """Boolean mask of held-out texts, stratified by label."""
    from sklearn.model_selection import train_test_split

    test = np.zeros(len(y), dtype=bool)
    if test_size > 0:
        _, idx = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
        test[idx] = True
    return test


def train_probe_from_shards(
    shards: Any,
    hook: str,
    labels: Sequence[Any],
    *,
    test_size: float = 0.1,
    seed: int | None = 0,
    C: float = 1.0,
    max_iter: int = 1000,
) -> LinearProbe:
    """Fit a :class:`LinearProbe` on per-text activations of `hook` in `shards`, shard by shard.

    Parameters
    ----------
    shards : ActivationShards
        Written by ``collect_activations(..., reducer="mean" or "last", out=dir)``: one row per text.
    hook : str
    labels : sequence of {0, 1} or bool, one per text of the collection (input order)
        1 = toxic (the probe's direction points towards it).
    test_size : float, default=0.1
        Held-out share of the texts, stratified by label; 0 fits on all (``accuracy_`` NaN).
    seed : int or None, default=0
    C, max_iter : see :class:`LinearProbe`

    Returns
    -------
    LinearProbe
        With ``accuracy_``, ``train_accuracy_``, ``n_train_``, ``n_test_``, ``hook_``,
        ``pooling_`` and ``n_solver_iterations_``.
    """
    from scipy.optimize import minimize

    if hook not in shards.hooks:
        raise KeyError(f"hook {hook!r} is not in {shards.folder}; it holds {shards.hooks}")
    if shards.reducer(hook) == "tokens":
        raise ValueError(f"{shards.folder} holds one row per token for {hook!r}; a probe needs one row per text "
                         "(collect with reducer='mean' or 'last')")
    y = np.asarray(labels).astype(int)
    n_texts = shards.n_rows(hook)
    if y.ndim != 1 or len(y) != n_texts:
        raise ValueError(f"labels must hold one label per text: {n_texts} texts in {shards.folder}, got {len(y)}")
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ValueError(f"labels must be binary with both classes present, got {sorted(set(y.tolist()))}")
    if not 0 <= test_size < 1:
        raise ValueError(f"test_size must be in [0, 1), got {test_size!r}")
    test = _held_out(y, test_size, seed)
    d = int(np.prod(shards.shape(hook)))

    def parts():
        for part in shards.iter_shards(hook, with_index=True):
            idx = part["text_index"].numpy()
            yield part["activations"].reshape(len(idx), -1).double().numpy(), idx

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:d], params[d]
        loss, grad = 0.5 * float(w @ w), np.concatenate([w, [0.0]])
        for X, idx in parts():
            keep = ~test[idx]
            X, t = X[keep], 2 * y[idx][keep] - 1  # labels as -1 / +1
            z = t * (X @ w + b)
            loss += C * float(np.logaddexp(0, -z).sum())
            g = -t / (1 + np.exp(z))  # d log(1 + e^-z) / d(Xw + b)
            grad[:d] += C * (X.T @ g)
            grad[d] += C * float(g.sum())
        return loss, grad

    fit = minimize(objective, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "gtol": 1e-6})
    probe = LinearProbe(C=C, max_iter=max_iter, random_state=seed)
    probe.coef_, probe.intercept_ = fit.x[:d].copy(), float(fit.x[d])
    probe.classes_, probe.n_features_in_ = np.array([0, 1]), d
    correct = np.zeros(n_texts, dtype=bool)
    for X, idx in parts():
        correct[idx] = probe.predict(X) == y[idx]
    probe.accuracy_ = float(correct[test].mean()) if test.any() else float("nan")
    probe.train_accuracy_ = float(correct[~test].mean())
    probe.n_train_, probe.n_test_ = int((~test).sum()), int(test.sum())
    probe.hook_, probe.pooling_ = hook, shards.reducer(hook)
    probe.n_solver_iterations_ = int(fit.nit)
    probe.model_name_ = shards.manifest.get("model_name")
    return probe
