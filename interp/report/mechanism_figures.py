"""Plotly figures of a mechanism comparison (one function per figure; tables in, figure out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = ["behaviour", "drift", "flow_terms", "permanence", "readout", "region_toxicity", "weight_heatmap"]

_LAYOUT = dict(template="plotly_white", legend={"orientation": "h", "y": -0.2})


def _errors(frame: Any, col: str) -> dict[str, Any]:
    if f"{col}_low" not in frame:
        return {}
    mean = frame[col].astype(float)
    return {"type": "data", "symmetric": False, "array": (frame[f"{col}_high"] - mean).fillna(0).tolist(),
            "arrayminus": (mean - frame[f"{col}_low"]).fillna(0).tolist()}


def behaviour(summary: Any) -> go.Figure:
    """Grouped bars per method: DS, DG-Avg, over-refusal and KQA (%), 95 % intervals."""
    fig = go.Figure()
    for col, label in (("ds", "DS (attack prompts safe)"), ("dg_avg", "DG-Avg"), ("over_refusal", "over-refusal"),
                       ("kqa", "KQA")):
        if col in summary:
            fig.add_bar(name=label, x=summary["method"], y=summary[col], error_y=_errors(summary, col))
    fig.update_layout(title="Behaviour after each method (raw %, 95 % intervals)", barmode="group",
                      yaxis_title="%", **_LAYOUT)
    return fig


def region_toxicity(table: Any) -> go.Figure:
    """Relative change of the region's mean and top-k cos(v_i, w) per run, by method."""
    fig = go.Figure()
    rows = table[table["method"] != "base"]
    for col, label in (("region_toxicity_change_pct", "mean cos(v_i, w)"),
                       ("region_toxicity_topk_change_pct", "top-1 % mean")):
        fig.add_box(name=label, x=rows["method"], y=rows[col], boxpoints="all", pointpos=0)
    fig.update_layout(title="Toxicity of the region's value vectors: change from the base model (one point per run)",
                      yaxis_title="relative change, %", boxmode="group", **_LAYOUT)
    return fig


def flow_terms(table: Any) -> go.Figure:
    """Stacked bars: activation, weight and cross terms of the change of C, mean over runs."""
    rows = table[table["method"] != "base"].groupby("method", sort=False).mean(numeric_only=True).reset_index()
    fig = go.Figure()
    for col, label in (("flow_activation_term", "activation term (what flows in)"),
                       ("flow_weight_term", "weight term (the region's parameters)"),
                       ("flow_cross_term", "cross term")):
        fig.add_bar(name=label, x=rows["method"], y=rows[col])
    fig.add_scatter(name="total change", x=rows["method"], y=rows["flow_total"], mode="markers",
                    marker={"symbol": "diamond", "size": 12, "color": "black"})
    fig.update_layout(title="Change of the toxicity the region writes, C = sum_i mean(m_i) (v_i . w)",
                      barmode="relative", yaxis_title="change of C", **_LAYOUT)
    return fig


def readout(readouts: Mapping[str, Sequence[Any]]) -> go.Figure:
    """w . resid_post per layer: change from the base model, mean over runs, one line per method."""
    fig = go.Figure()
    for method, shifts in readouts.items():
        change = np.mean([s.change for s in shifts], axis=0)
        fig.add_scatter(name=method, x=list(range(len(change))), y=change.tolist(), mode="lines+markers")
    fig.update_layout(title="Toxic-direction readout of the residual stream: change per layer",
                      xaxis_title="layer", yaxis_title="change of w . mean(resid_post)", **_LAYOUT)
    return fig


def weight_heatmap(diffs: Mapping[str, Sequence[Any]], n_layers: int) -> go.Figure:
    """Heatmap methods x layers of ||dW||_F summed over each block's parameters (mean over runs)."""
    methods = list(diffs)
    z = np.zeros((len(methods), n_layers))
    for i, method in enumerate(methods):
        for frame in diffs[method]:
            blocks = frame[frame["layer"] >= 0]
            sq = blocks.assign(sq=blocks["diff_norm"] ** 2).groupby("layer")["sq"].sum()
            for layer, v in sq.items():
                z[i, int(layer)] += np.sqrt(v) / len(diffs[method])
    fig = go.Figure(go.Heatmap(z=np.log10(np.maximum(z, 1e-12)).tolist(), x=list(range(n_layers)), y=methods,
                               colorbar={"title": "log10 ||dW||_F"}, colorscale="Viridis",
                               hovertemplate="layer %{x}, %{y}: 10^%{z:.2f}<extra></extra>"))
    fig.update_layout(title="Where each method changed the weights (per block, log scale; 1e-12 = unchanged)",
                      xaxis_title="layer", **_LAYOUT)
    return fig


def drift(drifts: Mapping[str, Sequence[Any]]) -> go.Figure:
    """Per-layer harmful embedding drift after the attack, one line per method."""
    fig = go.Figure()
    for method, ds in drifts.items():
        per_layer = np.mean([d.per_layer for d in ds], axis=0)
        mean = np.mean([d.per_sample_mean for d in ds])
        fig.add_scatter(name=f"{method} (per-sample {mean:.3g})", x=list(range(len(per_layer))),
                        y=per_layer.tolist(), mode="lines+markers")
    fig.update_layout(title="Harmful embedding drift of the alignment data after the attack (attention outputs)",
                      xaxis_title="layer", yaxis_title="mean ||d attn_out|| per token", **_LAYOUT)
    return fig


def permanence(summary: Any) -> go.Figure:
    """DS of each method, after the harmful fine-tuning attack and after key scaling."""
    fig = go.Figure()
    for col, label in (("ds", "after the method"), ("attack_ds", "after the harmful fine-tuning attack"),
                       ("keys_ds", "after scaling the toxic keys")):
        if col in summary:
            fig.add_bar(name=label, x=summary["method"], y=summary[col], error_y=_errors(summary, col))
    fig.update_layout(title="Permanence: is the detox still there? (DS, % of attack prompts answered safely)",
                      barmode="group", yaxis_title="DS %", **_LAYOUT)
    return fig
