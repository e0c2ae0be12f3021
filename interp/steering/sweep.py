"""Steering sweeps: refusal, unsafe, over-refusal, QA and fluency over an intervention's strength.

:func:`steering_sweep` runs :func:`interp.evaluate.behaviour_row` once per value inside
``intervention(value)`` (any context manager factory); :func:`clamp_sweep` (SAE feature
clamping) and :func:`addition_sweep` (difference-in-means activation addition) are it with the
interventions of :mod:`.clamp` and :mod:`.directions`, so both are measured the same way. Every
rate is the judge's raw share with its Wilson interval and the judge-corrected share with its
bootstrap interval (:class:`interp.evaluate.Rate`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from torch import Tensor
from transformer_lens import HookedTransformer

__all__ = ["SteeringSweep", "ablation_sweep", "addition_sweep", "clamp_sweep", "steering_sweep"]


@dataclass
class SteeringSweep:
    """One :class:`~interp.evaluate.BehaviourRow` per value of the intervention's parameter.

    Attributes
    ----------
    name : str
        What was swept, e.g. ``"clamp feature 812 at blocks.3.hook_resid_post"``.
    parameter : str
        The swept parameter's name (``"value"``, ``"alpha"``, ...).
    values : list
        Its values, in sweep order (None = no intervention, shown as ``"off"``).
    rows : list of BehaviourRow
    fluency : list of float
        n-gram entropy (bits) of the benign sets' generations (the harmful sets' when no benign set).
    """

    name: str
    parameter: str
    values: list[Any]
    rows: list[Any]
    fluency: list[float]

    def to_frame(self) -> Any:
        """pandas DataFrame, one row per value; rates in %, ``<set> <rate>`` with ``low`` / ``high``
        (Wilson 95 %) and ``corrected`` / ``corrected low`` / ``corrected high`` columns; benign
        sets' refusals are named ``over-refusal``; ``qa %`` with its Wilson bounds; ``fluency``."""
        import pandas as pd

        out = []
        for value, row, fluency in zip(self.values, self.rows, self.fluency):
            rec: dict[str, Any] = {self.parameter: "off" if value is None else value}
            for s in row.sets:
                for rate_name, rate in s.rates.items():
                    label = f"{s.name} {rate_name if s.harmful else 'over-refusal'}"
                    rec.update({f"{label} %": rate.raw, f"{label} low": rate.low, f"{label} high": rate.high,
                                f"{label} corrected %": rate.corrected, f"{label} corrected low": rate.corrected_low,
                                f"{label} corrected high": rate.corrected_high, f"{label} n": rate.n})
            if row.qa is not None:
                qa = row.qa.contains_rate
                rec.update({"qa %": qa.raw, "qa low": qa.low, "qa high": qa.high, "qa n": qa.n})
            rec["fluency"] = fluency
            out.append(rec)
        return pd.DataFrame(out)

    def _set_names(self, harmful: bool) -> list[str]:
        return [s.name for s in self.rows[0].sets if s.harmful == harmful]

    def best(self, max_over_refusal: float = 10.0, *, harmful_set: str | None = None,
             benign_set: str | None = None, corrected: bool = False) -> Any:
        """The row (pandas Series) with the highest refusal on `harmful_set` among values whose
        over-refusal on `benign_set` is at most `max_over_refusal` %; None if no value qualifies.
        Defaults: the first harmful and the first benign set; raw rates unless `corrected`."""
        frame = self.to_frame()
        harmful_set = harmful_set or self._set_names(True)[0]
        benign_set = benign_set or self._set_names(False)[0]
        tail = " corrected %" if corrected else " %"
        ok = frame[frame[f"{benign_set} over-refusal{tail}"] <= max_over_refusal]
        if ok.empty:
            return None
        return ok.loc[ok[f"{harmful_set} refusal{tail}"].idxmax()]

    def figure(self) -> Any:
        """plotly figure: each harmful set's refusal and unsafe rate, each benign set's over-refusal
        and QA over the parameter, with 95 % Wilson intervals as error bars."""
        import plotly.graph_objects as go

        frame = self.to_frame()
        x = [str(v) for v in frame[self.parameter]]
        fig = go.Figure()
        labels = [f"{n} refusal" for n in self._set_names(True)] + [f"{n} unsafe" for n in self._set_names(True)]
        labels += [f"{n} over-refusal" for n in self._set_names(False)] + (["qa"] if "qa %" in frame else [])
        for label in labels:
            y = frame[f"{label} %"]
            fig.add_trace(go.Scatter(
                x=x, y=y, name=label, mode="lines+markers",
                line={"dash": "dot"} if "unsafe" in label else None,
                error_y={"type": "data", "symmetric": False, "array": frame[f"{label} high"] - y,
                         "arrayminus": y - frame[f"{label} low"]}))
        fig.update_layout(title=self.name, xaxis_title=self.parameter, yaxis_title="% of prompts (raw judge, 95 % Wilson)",
                          yaxis_range=[0, 100])
        return fig


def _arity(fn: Callable[..., Any]) -> int:
    """Required positional parameters of `fn` (1 for ``value``, 2 for ``(model, value)``)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return 1
    return sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _sweep_row(value: Any, *, model: HookedTransformer, steer: Callable[..., Any], opts: dict[str, Any]) -> tuple[
        Any, float]:
    """One value of a sweep (one executor task): the behaviour row inside ``steer(model, value)``
    and the fluency of its benign generations (the harmful ones' when there is no benign set)."""
    from interp.evaluate import behaviour_row
    from interp.evaluate.text_metrics import ngram_entropy

    with steer(model, value):
        row = behaviour_row(model, progress=False, **opts)
    texts = [g for s in row.sets if s.harmful == (not opts.get("benign")) for g in s.generations]
    return row, ngram_entropy(texts)


@dataclass
class _Clamp:
    """``(model, value) -> clamp(...)``: picklable, so a Ray task can steer its own copy of the model."""

    sae: Any
    feature: int
    positions: str
    conditional: bool
    hook: str

    def __call__(self, model: HookedTransformer, value: Any) -> AbstractContextManager[Any]:
        from interp.steering.clamp import clamp

        return clamp(model, self.sae, self.feature, value, positions=self.positions,
                     conditional=self.conditional, hook=self.hook)


@dataclass
class _Add:
    direction: Tensor
    hook: str

    def __call__(self, model: HookedTransformer, alpha: float) -> AbstractContextManager[Any]:
        from interp.steering.directions import add_direction

        return add_direction(model, self.direction, alpha, hook=self.hook)


@dataclass
class _Ablate:
    direction: Tensor

    def __call__(self, model: HookedTransformer, on: bool) -> AbstractContextManager[Any]:
        from interp.steering.directions import ablate_direction

        return ablate_direction(model, self.direction) if on else nullcontext()


def steering_sweep(
    model: HookedTransformer,
    intervention: Callable[..., AbstractContextManager[Any]],
    values: Sequence[Any],
    *,
    harmful: Mapping[str, Sequence[Any]],
    benign: Mapping[str, Sequence[Any]] | None = None,
    qa: Sequence[Any] | None = None,
    judge: Any = None,
    name: str = "steering",
    parameter: str = "value",
    max_new_tokens: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    executor: Any = None,
    progress: bool = True,
) -> SteeringSweep:
    """:func:`~interp.evaluate.behaviour_row` inside ``intervention(value)`` for every value.

    Parameters
    ----------
    model : HookedTransformer
    intervention : callable value -> context manager, or (model, value) -> context manager
        Steers the model inside its block (e.g. ``lambda v: clamp(model, sae, f, v)``). With an
        executor other than serial it must take ``(model, value)`` and be picklable: each task
        steers its own copy of the model in another process.
    values : sequence
        Non-empty.
    harmful, benign, qa, judge, max_new_tokens, batch_size, seed
        As in :func:`~interp.evaluate.behaviour_row` (greedy generation, the default judge).
    name, parameter : str
        Labels for the table and the figure.
    executor : {"serial", "ray"} or executor object, optional
        How the values run (:mod:`interp.executors`); one task per value, same numbers either
        way. A value whose task fails raises ``RuntimeError`` naming it, after the others ran.

    Returns
    -------
    SteeringSweep
    """
    from interp.evaluate import resolve_judge
    from interp.executors import SerialExecutor, get_executor, raise_failures

    values = list(values)
    if not values:
        raise ValueError("values is empty; give at least one value to sweep")
    runner = get_executor(executor)
    if _arity(intervention) >= 2:
        steer = intervention
    elif isinstance(runner, SerialExecutor):
        steer = _Bound(intervention)
    else:
        raise TypeError(f"steering_sweep with executor {runner.name!r}: intervention must take (model, value) "
                        "(each task steers its own copy of the model); a function of value alone steers the "
                        "caller's model only")
    judge = resolve_judge(judge, model, refusal=True)
    opts = dict(harmful=harmful, benign=benign, qa=qa, judge=judge, max_new_tokens=max_new_tokens,
                batch_size=batch_size, seed=seed)
    outcomes = runner.map(_sweep_row, values, shared={"model": model, "steer": steer, "opts": opts},
                          labels=[f"{parameter}={v}" for v in values], desc=name, progress=progress)
    raise_failures(outcomes, name)
    rows, fluency = zip(*(o.value for o in outcomes))
    return SteeringSweep(name=name, parameter=parameter, values=values, rows=list(rows), fluency=list(fluency))


@dataclass
class _Bound:
    """An intervention of the value alone, called as ``(model, value)`` (serial runs only)."""

    intervention: Callable[[Any], AbstractContextManager[Any]]

    def __call__(self, model: HookedTransformer, value: Any) -> AbstractContextManager[Any]:
        return self.intervention(value)


def clamp_sweep(model: HookedTransformer, sae: Any, feature: int, values: Sequence[float | None], *,
                positions: str = "all", conditional: bool = False, hook: str | None = None,
                **kwargs: Any) -> SteeringSweep:
    """:func:`steering_sweep` over clamp values of one SAE feature (None = unclamped); takes its
    keywords, ``executor="ray"`` included (one task per value)."""
    from interp.steering.features import sae_for_hook

    hook = sae_for_hook(model, sae, hook)
    label = f"clamp feature {int(feature)} at {hook}" + (" (conditional)" if conditional else "")
    return steering_sweep(model, _Clamp(sae, int(feature), positions, conditional, hook), values,
                          name=kwargs.pop("name", label), parameter="clamp value", **kwargs)


def addition_sweep(model: HookedTransformer, direction: Tensor, alphas: Sequence[float], *, hook: str,
                   **kwargs: Any) -> SteeringSweep:
    """:func:`steering_sweep` over ``alpha`` of difference-in-means activation addition at `hook`
    (`direction` of shape (d_model,), see :func:`~interp.steering.add_direction`)."""
    return steering_sweep(model, _Add(direction, hook), alphas,
                          name=kwargs.pop("name", f"add alpha x refusal direction at {hook}"),
                          parameter="alpha", **kwargs)


def ablation_sweep(model: HookedTransformer, direction: Tensor, **kwargs: Any) -> SteeringSweep:
    """The model without and with directional ablation of `direction` (shape (d_model,); values
    False, True; see :func:`~interp.steering.ablate_direction`)."""
    return steering_sweep(model, _Ablate(direction), [False, True],
                          name=kwargs.pop("name", "directional ablation of the refusal direction"),
                          parameter="ablated", **kwargs)
