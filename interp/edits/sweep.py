"""DINM over a grid of settings on the same records: which layer (or lr, steps, c_edit) edits best.

:func:`dinm_sweep` runs one DINM edit per (record, setting) and judges, before and after, the
record's adversarial prompt and its four generalization prompts (refusal and unsafe flags of the
default judge), the model's answers to a fact set (KQA) and the fluency of the record's answers.
:func:`layer_sweep` is the sweep over ``layer`` that also records which layer each locator of
:data:`interp.locate.LOCATE_METHODS` picks for each record, so the question "does the located
layer edit best?" gets numbers (:meth:`DINMSweep.located_vs_best`).

Every rate is per record (0/1 on the adversarial prompt, a share of 4 on the generalization
prompts) and pooled per setting with its n, Wilson interval and judge-corrected value
(:meth:`DINMSweep.pooled_rates`); differences are means over records with a 95 % t-interval.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from interp.intervals import mean_interval
from interp.checks import record_label, record_text
from interp.edits.dinm import DINMConfig, dinm
from interp.evaluate import SAFETY_FIELDS, generate, judged_rate, ngram_entropy, qa_accuracy, resolve_judge
from interp.locate import LOCATE_METHODS, locate_toxic_layer

if TYPE_CHECKING:
    import pandas as pd
    from transformer_lens import HookedTransformer

    from interp.evaluate import Rate

__all__ = ["DINMSweep", "dinm_sweep", "layer_sweep"]

#: per-record measures, each ``<name>_before`` and ``<name>_after`` in the rows (percent)
MEASURES = ("refusal_adv", "refusal_gen", "unsafe_adv", "unsafe_gen", "fluency")


def _record_prompts(record: Any, i: int) -> list[str]:
    """The adversarial prompt then the non-blank generalization prompts of one record."""
    prompts = [record_text(record, SAFETY_FIELDS[k]) for k in SAFETY_FIELDS]
    if prompts[0] is None:
        raise ValueError(f"dinm_sweep: {record_label(record, i)} has no non-blank 'adversarial_prompt'")
    return [p for p in prompts if p is not None]


@dataclass
class DINMSweep:
    """One row per (record, setting) of a DINM sweep, the judge's flags behind them, and locators.

    Attributes
    ----------
    rows : list of dict
        ``record`` (index), the grid keys, ``layer`` (edited), ``seconds``, ``loss_first`` /
        ``loss_last``, ``kqa`` (after, %), and ``<measure>_before`` / ``_after`` for each of
        :data:`MEASURES` (refusal / unsafe in %, fluency in bits).
    grid : dict of str to list
        The swept DINM options.
    kqa_before : float
        KQA (%) of the unedited model on the same fact set.
    located : dict of str to list of int
        Per locator, the layer it picks for each record (layer sweeps; empty otherwise).
    flags : dict
        ``(setting, "refusal" | "unsafe", "adv" | "gen")`` -> boolean array over records' prompts
        (``setting`` is ``"before"`` or the tuple of grid values), behind :meth:`pooled_rates`.
    judge : Judge
    n_qa : int
    """

    rows: list[dict[str, Any]]
    grid: dict[str, list[Any]]
    kqa_before: float
    located: dict[str, list[int]] = field(default_factory=dict)
    flags: dict[tuple[Any, str, str], np.ndarray] = field(default_factory=dict, repr=False)
    judge: Any = field(default=None, repr=False)
    n_qa: int = 0

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame, with ``<measure>_gain`` = after - before for each measure."""
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        for m in MEASURES:
            frame[f"{m}_gain"] = frame[f"{m}_after"] - frame[f"{m}_before"]
        frame["kqa_change"] = frame["kqa"] - self.kqa_before
        return frame

    def summary(self) -> pd.DataFrame:
        """Per setting: n records, mean, std and 95 % t-interval of each gain over records; KQA
        and its change; fluency; median edit seconds; and (layer sweeps) which locators chose
        the layer for how many records (``chosen_by``)."""
        import pandas as pd

        frame, keys = self.to_frame(), list(self.grid)
        out = []
        for setting, group in frame.groupby(keys, sort=True):
            row: dict[str, Any] = dict(zip(keys, setting if isinstance(setting, tuple) else (setting,)))
            row["n_records"] = len(group)
            for m in ("refusal_adv", "refusal_gen", "unsafe_adv", "unsafe_gen"):
                row[f"{m}_before"] = float(group[f"{m}_before"].mean())
                row[f"{m}_after"] = float(group[f"{m}_after"].mean())
                gains = group[f"{m}_gain"].dropna()
                mean, low, high = mean_interval(gains.tolist())
                std = float(gains.std(ddof=1)) if len(gains) > 1 else math.nan
                row.update({f"{m}_gain": mean, f"{m}_gain_std": std, f"{m}_gain_low": low, f"{m}_gain_high": high})
            row["kqa"], row["kqa_change"] = float(group["kqa"].mean()), float(group["kqa_change"].mean())
            row["fluency_before"] = float(group["fluency_before"].mean())
            row["fluency_after"] = float(group["fluency_after"].mean())
            row["seconds_median"] = float(group["seconds"].median())
            if self.located and "layer" in keys:
                row["chosen_by"] = ", ".join(f"{m} {sum(l_ == row['layer'] for l_ in ls)}"
                                             for m, ls in self.located.items() if row["layer"] in ls)
            out.append(row)
        return pd.DataFrame(out)

    def pooled_rates(self) -> pd.DataFrame:
        """Per setting (and ``"before"``), each of refusal / unsafe on adversarial / generalization
        prompts pooled over records: n, raw % with its Wilson interval, judge-corrected % with its
        interval."""
        import pandas as pd

        out = []
        for (setting, verdict, where), flags in self.flags.items():
            rate: Rate = judged_rate(flags, self.judge, name=f"{verdict}_{where}", verdict=verdict)
            out.append({"setting": setting, "rate": f"{verdict}_{where}", "n": rate.n, "raw": rate.raw,
                        "low": rate.low, "high": rate.high, "corrected": rate.corrected,
                        "corrected_low": rate.corrected_low, "corrected_high": rate.corrected_high})
        return pd.DataFrame(out)

    def located_vs_best(self, measure: str = "refusal_gen_gain") -> pd.DataFrame:
        """Layer sweeps: per locator, the mean `measure` when each record is edited at the layer
        that locator picks for it (records whose pick was not swept are dropped, counted in
        ``n_records``), against the best single layer for all records, with the paired difference
        and its 95 % t-interval over records."""
        import pandas as pd

        if "layer" not in self.grid or len(self.grid) != 1:
            raise ValueError("located_vs_best needs a sweep over 'layer' alone (layer_sweep)")
        frame = self.to_frame().set_index(["record", "layer"])[measure]
        best = frame.groupby(level="layer").mean().idxmax()
        out = []
        for method, layers in self.located.items():
            pairs = [(frame.get((r, l_)), frame.get((r, best))) for r, l_ in enumerate(layers)
                     if (r, l_) in frame.index]
            diff = mean_interval([a - b for a, b in pairs])
            out.append({"locator": method, "n_records": len(pairs), "distinct_layers": len(set(layers)),
                        f"{measure}_located": float(np.mean([a for a, _ in pairs])) if pairs else math.nan,
                        "best_layer": int(best), f"{measure}_best": float(np.mean([b for _, b in pairs])) if pairs
                        else math.nan, "difference": diff[0], "difference_low": diff[1], "difference_high": diff[2]})
        return pd.DataFrame(out)

    def figure(self, measure: str = "refusal_gen_gain") -> Any:
        """Plotly figure: the mean `measure` over records per setting (95 % interval as error bars)
        and KQA change on a second axis; for layer sweeps the locators' picks as markers."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        summary, keys = self.summary(), list(self.grid)
        x_key = "layer" if "layer" in keys else keys[0]
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        others = [k for k in keys if k != x_key]
        groups = summary.groupby(others) if others else [((), summary)]
        for label, group in groups:
            name = ", ".join(f"{k}={v}" for k, v in zip(others, label if isinstance(label, tuple) else (label,)))
            mean = group[measure]
            base = measure.removesuffix("_gain")
            fig.add_trace(go.Scatter(x=group[x_key], y=mean, mode="lines+markers", name=f"{base} gain {name}".strip(),
                                     error_y={"type": "data", "symmetric": False,
                                              "array": group.get(f"{measure}_high", mean) - mean,
                                              "arrayminus": mean - group.get(f"{measure}_low", mean)}))
            fig.add_trace(go.Scatter(x=group[x_key], y=group["kqa_change"], mode="lines", line={"dash": "dot"},
                                     name=f"KQA change {name}".strip()), secondary_y=True)
        for method, layers in self.located.items():
            counts = {layer: layers.count(layer) for layer in set(layers)}
            fig.add_trace(go.Scatter(x=list(counts), y=[0] * len(counts), mode="markers", name=f"picked by {method}",
                                     marker={"size": [6 + 2 * math.sqrt(c) for c in counts.values()], "symbol": "x"},
                                     text=[f"{c} records" for c in counts.values()]))
        fig.update_layout(title=f"DINM sweep: {measure} (points, mean over {summary['n_records'].max()} records, 95 % CI)",
                          xaxis_title=x_key, template="plotly_white")
        fig.update_yaxes(title_text=f"{measure} (points)", secondary_y=False)
        fig.update_yaxes(title_text="KQA change (points)", secondary_y=True)
        return fig


def _judge_prompts(model: Any, judge: Any, prompts: list[list[str]], *, max_new_tokens: int, seed: int
                   ) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Greedy answers to each record's prompts: per record the refusal and unsafe flags (adversarial
    first) and the fluency of its answers."""
    flat = [p for ps in prompts for p in ps]
    answers = generate(model, flat, max_new_tokens=max_new_tokens, seed=seed, progress=False)
    verdicts = judge(answers)
    refused, unsafe, fluency, start = [], [], [], 0
    for ps in prompts:
        sl = slice(start, start + len(ps))
        refused.append(np.asarray(verdicts.refused[sl], dtype=bool))
        unsafe.append(np.asarray(verdicts.unsafe[sl], dtype=bool))
        fluency.append(float(ngram_entropy(answers[sl])))
        start += len(ps)
    return refused, unsafe, fluency


def _qa_pairs(records: list[Any], qa: Iterable[Any] | None) -> list[Any]:
    if qa is not None:
        return list(qa)
    pairs = {}
    for r in records:
        q, a = record_text(r, ("knowledge_constrain", "prompt")), record_text(r, ("knowledge_constrain", "answer"))
        if q is not None and a is not None:
            pairs[q] = (q, a)
    if not pairs:
        raise ValueError("dinm_sweep: no record has a knowledge_constrain prompt/answer; pass qa=")
    return list(pairs.values())


def dinm_sweep(
    model: HookedTransformer,
    records: Sequence[Any],
    grid: Mapping[str, Sequence[Any]],
    *,
    qa: Iterable[Any] | None = None,
    judge: Any = None,
    locators: Sequence[str] = (),
    max_new_tokens: int = 64,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> DINMSweep:
    """One DINM edit per record and per setting of `grid`, judged before and after.

    Parameters
    ----------
    model : HookedTransformer
        Never changed.
    records : sequence of SafetyRecord
        Each edited alone; its adversarial prompt and generalization prompts are the evaluation.
    grid : mapping of str to sequence
        DINM options to cross (fields of :class:`~interp.edits.DINMConfig`, e.g. ``{"layer":
        [0, 3], "lr": [5e-4, 5e-3]}``).
    qa : iterable of QA pairs, optional
        Fact set for KQA (default: the records' knowledge constraints, deduplicated).
    judge : Judge, optional
        Default :func:`~interp.evaluate.default_judge` for `model`.
    locators : sequence of str
        Locator methods whose per-record choice is recorded in :attr:`DINMSweep.located`.
    max_new_tokens : int, default=64
    seed : int, default=0
        Edit and generation seed.
    progress : bool, default=True
        A bar over the edits.
    **options
        Fixed DINM options for every edit.

    Returns
    -------
    DINMSweep
    """
    from tqdm.auto import tqdm

    records = list(records)
    if not records:
        raise ValueError("dinm_sweep: records is empty")
    grid = {k: list(v) for k, v in grid.items()}
    fields = set(DINMConfig.__dataclass_fields__)
    for key in {**grid, **options}:
        if key not in fields:
            raise TypeError(f"dinm_sweep: {key!r} is not a DINM option; options are {sorted(fields)}")
    for key, values in grid.items():
        if not values:
            raise ValueError(f"dinm_sweep: grid[{key!r}] is empty")
    for m in locators:
        if m not in LOCATE_METHODS:
            raise ValueError(f"dinm_sweep: unknown locator {m!r}; one of {list(LOCATE_METHODS)}")
    judge_ = resolve_judge(judge, model)
    prompts = [_record_prompts(r, i) for i, r in enumerate(records)]
    pairs = _qa_pairs(records, qa)
    gen = {"max_new_tokens": max_new_tokens, "seed": seed}

    located = {m: [locate_toxic_layer(model, r, method=m).layer for r in records] for m in locators}
    refused0, unsafe0, fluency0 = _judge_prompts(model, judge_, prompts, **gen)
    kqa_before = qa_accuracy(model, pairs, seed=seed, progress=False).contains
    flags: dict[tuple[Any, str, str], np.ndarray] = {}

    def keep(setting: Any, refused: list[np.ndarray], unsafe: list[np.ndarray]) -> None:
        for verdict, per in (("refusal", refused), ("unsafe", unsafe)):
            flags[(setting, verdict, "adv")] = np.array([f[0] for f in per])
            flags[(setting, verdict, "gen")] = np.concatenate([f[1:] for f in per])

    keep("before", refused0, unsafe0)
    rows: list[dict[str, Any]] = []
    settings = list(itertools.product(*grid.values()))
    bar = tqdm(total=len(settings) * len(records), desc="dinm sweep", disable=not progress)
    for values in settings:
        chosen = dict(zip(grid, values))
        refused1, unsafe1 = [], []
        for i, record in enumerate(records):
            result = dinm(model, record, seed=seed, progress=False, **{**options, **chosen})
            (r1,), (u1,), (f1,) = _judge_prompts(result.model, judge_, [prompts[i]], **gen)
            kqa = qa_accuracy(result.model, pairs, seed=seed, progress=False).contains
            refused1.append(r1)
            unsafe1.append(u1)
            rows.append({"record": i, **chosen, "layer": result.region.layer, "seconds": result.seconds,
                         "loss_first": result.losses[0], "loss_last": result.losses[-1], "kqa": kqa,
                         "refusal_adv_before": 100.0 * refused0[i][0], "refusal_adv_after": 100.0 * r1[0],
                         "refusal_gen_before": 100.0 * refused0[i][1:].mean(), "refusal_gen_after": 100.0 * r1[1:].mean(),
                         "unsafe_adv_before": 100.0 * unsafe0[i][0], "unsafe_adv_after": 100.0 * u1[0],
                         "unsafe_gen_before": 100.0 * unsafe0[i][1:].mean(), "unsafe_gen_after": 100.0 * u1[1:].mean(),
                         "fluency_before": fluency0[i], "fluency_after": f1})
            del result
            bar.update()
        keep(values, refused1, unsafe1)
    bar.close()
    return DINMSweep(rows=rows, grid=grid, kqa_before=kqa_before, located=located, flags=flags, judge=judge_,
                     n_qa=len(pairs))


def layer_sweep(
    model: HookedTransformer,
    records: Sequence[Any],
    layers: Sequence[int] | None = None,
    *,
    locators: Sequence[str] = LOCATE_METHODS,
    **kwargs: Any,
) -> DINMSweep:
    """DINM at each of `layers` (default every layer) on the same records, next to the layer each
    locator picks per record: does the located layer edit best?

    Parameters
    ----------
    layers : sequence of int, optional
        Default ``range(model.cfg.n_layers)``.
    locators : sequence of str, default all of :data:`interp.locate.LOCATE_METHODS`
    **kwargs
        Passed to :func:`dinm_sweep` (``qa``, ``judge``, ``seed``, DINM options such as ``lr``).

    Examples
    --------
    >>> sweep = layer_sweep(model, test[:10])  # doctest: +SKIP
    >>> sweep.located_vs_best()  # doctest: +SKIP
    >>> sweep.figure().show()  # doctest: +SKIP
    """
    n_layers = model.cfg.n_layers
    layers = list(range(n_layers)) if layers is None else list(layers)
    bad = [layer for layer in layers if not isinstance(layer, int) or not 0 <= layer < n_layers]
    if bad:
        raise ValueError(f"layer_sweep: layers {bad} are outside 0..{n_layers - 1}")
    if "layer" in kwargs:
        raise TypeError("layer_sweep: pass layers=[...], not layer=")
    return dinm_sweep(model, records, {"layer": layers}, locators=locators, **kwargs)
