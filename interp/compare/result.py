""":class:`MechanismComparison`: the rows, the claims, the figures, JSON and the HTML report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np


__all__ = ["MechanismComparison", "SUMMARY_COLUMNS"]

#: The columns of :meth:`MechanismComparison.summary`, in order.
SUMMARY_COLUMNS = ("ds", "dg_avg", "over_refusal", "kqa", "fluency", "region_toxicity_change_pct",
                   "region_toxicity_topk_change_pct",
                   "flow_activation_term", "flow_weight_term", "flow_cross_term", "bypass_share", "dx_relative",
                   "weight_diff_total", "hed", "attack_ds", "attack_dg_avg", "keys_ds", "keys_dg_avg",
                   "edit_seconds")


@dataclass
class MechanismComparison:
    """What each detox method changed inside one model (from :func:`interp.compare_mechanisms`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model: ``method`` (``"base"`` first), ``seed``, ``instance`` (DINM's record),
        and every measurement: SafeEdit rates with ``_low`` / ``_high`` (Wilson), ``_corrected``
        (judge error) and ``_n``; ``over_refusal*``; ``kqa``, ``fluency``; ``region_toxicity*``;
        ``flow_*`` (C before/after, activation / weight / cross terms with prompt-resampling
        intervals); ``bypass_share``, ``dx_relative``, ``offset_*``; ``weight_diff_*``; ``hed*``;
        ``attack_*`` and ``keys_*`` (the scores after the attack and after key scaling).
    details : dict
        ``(method, seed, instance) -> {"flow", "readout", "weight_diff", "drift"}`` objects.
    samples : dict of str to list of (prompt, generation)
    meta : dict
        Model, seeds, settings, versions, device, executor, seconds, and ``failures``.
    layer_sweep : DINMSweep or None
    """

    table: Any
    details: dict[Any, Any] = field(default_factory=dict, repr=False)
    samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)
    meta: dict[str, Any] = field(default_factory=dict)
    layer_sweep: Any = field(default=None, repr=False)

    @cached_property
    def claims(self) -> Any:
        """pandas DataFrame: claim, source, status, estimate, low, high, n_runs, evidence."""
        import pandas as pd

        from interp.compare.claims import evaluate_claims

        return pd.DataFrame([c.to_dict() for c in evaluate_claims(self.table, self.details, self.layer_sweep)])

    @property
    def failures(self) -> Any:
        """pandas DataFrame of the tasks that failed (method, seed, instance, error, attempts);
        empty when all ran. Their models have no row in :attr:`table`."""
        import pandas as pd

        return pd.DataFrame(self.meta.get("failures", []),
                            columns=["method", "seed", "instance", "error", "attempts"])

    def differences(self, reference: str = "base") -> Any:
        """Each method minus `reference` on DS, DG-Avg, over-refusal and the permanence scores,
        with 95 % intervals (see :func:`interp.compare.claims.method_differences`)."""
        from interp.compare.claims import method_differences

        return method_differences(self.table, reference)

    def summary(self) -> Any:
        """Per method: the mean over runs of each of :data:`SUMMARY_COLUMNS` and, with two runs or
        more, its 95 % t-interval (``<column>_low`` / ``_high``); ``n_runs``."""
        import pandas as pd

        from interp.compare.claims import run_estimate

        rows = []
        for method, group in self.table.groupby("method", sort=False):
            row: dict[str, Any] = {"method": method, "n_runs": len(group)}
            for col in SUMMARY_COLUMNS:
                if col in group:
                    m, lo, hi, _ = run_estimate(self.table, method, col)
                    row.update({col: m, f"{col}_low": lo, f"{col}_high": hi})
            rows.append(row)
        return pd.DataFrame(rows)

    @cached_property
    def figures(self) -> dict[str, Any]:
        """plotly figures by title (see :mod:`interp.report.mechanism_figures`)."""
        from interp.report import mechanism_figures as mf

        figs = {
            "Behaviour per method": mf.behaviour(self.summary()),
            "Region toxicity": mf.region_toxicity(self.table),
            "Information flow into the region": mf.flow_terms(self.table),
            "Probe readout per layer": mf.readout(self._detail("readout")),
            "Weight differences": mf.weight_heatmap(self._detail("weight_diff"), self.meta.get("n_layers", 0)),
        }
        drift = self._detail("drift")
        if drift:
            figs["Harmful embedding drift"] = mf.drift(drift)
        if "attack_ds" in self.table or "keys_ds" in self.table:
            figs["Permanence"] = mf.permanence(self.summary())
        if self.layer_sweep is not None:
            figs["Does the located layer edit best?"] = self.layer_sweep.figure()
        return figs

    def _detail(self, key: str) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for (method, _, _), d in self.details.items():
            if key in d and (method != "base" or key == "drift"):  # the base's own shifts are zero
                out.setdefault(method, []).append(d[key])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: meta, rows, summary, claims, samples (and the layer sweep's summary)."""
        def clean(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and math.isnan(v) else
                         v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in records]

        out = {"meta": self.meta, "rows": clean(self.table.to_dict("records")),
               "summary": clean(self.summary().to_dict("records")), "claims": clean(self.claims.to_dict("records")),
               "differences": clean(self.differences().to_dict("records")),
               "samples": {m: [list(p) for p in s] for m, s in self.samples.items()}}
        if self.layer_sweep is not None:
            out["layer_sweep"] = clean(self.layer_sweep.summary().to_dict("records"))
        return out

    def to_json(self, path: str | Path | None = None) -> str | Path:
        """The :meth:`to_dict` as JSON; written to `path` (returned) when given."""
        text = json.dumps(self.to_dict(), indent=1, default=str, ensure_ascii=False)
        if path is None:
            return text
        Path(path).write_text(text, encoding="utf-8")
        return Path(path)

    def to_html(self, path: str | Path | None = None) -> str | Path:
        """The self-contained HTML report (plotly.js inline; model text escaped)."""
        from interp.report.comparison import render_comparison

        html = render_comparison(self)
        if path is None:
            return html
        Path(path).write_text(html, encoding="utf-8")
        return Path(path)

    def __str__(self) -> str:
        lines = [f"MechanismComparison of {self.meta.get('model')} ({self.meta.get('seconds')} s)"]
        lines += [f"  [failed] {f['method']} seed {f['seed']} {f['instance']}: {f['error'].splitlines()[0]}"
                  for f in self.meta.get("failures", [])]
        for _, c in self.claims.iterrows():
            lines.append(f"  [{c['status']}] {c['claim']}: {c['evidence']}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.claims.to_html(index=False)
