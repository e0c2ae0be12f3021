"""Plotly figures of the locate/probe/evaluate measurements (one function per figure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go


def layer_distribution(summaries: Mapping[str, Any], n_layers: int) -> go.Figure:
    """Grouped bars: how many records each locate method assigns to each layer."""
    fig = go.Figure()
    for method, summary in summaries.items():
        counts = [summary.layer_counts.get(layer, 0) for layer in range(n_layers)]
        fig.add_bar(name=method, x=list(range(n_layers)), y=counts)
    fig.update_layout(title="Located toxic layer per record", xaxis_title="layer",
                      yaxis_title="records", barmode="group", template="plotly_white")
    return fig


def layer_distances(summaries: Mapping[str, Any]) -> go.Figure:
    """Mean safe-vs-unsafe distance per layer, each method scaled to its own maximum."""
    fig = go.Figure()
    for method, summary in summaries.items():
        mean = summary.distances.mean(0)
        fig.add_scatter(name=method, x=list(range(len(mean))), y=(mean / mean.max()).tolist(),
                        mode="lines+markers")
    fig.update_layout(title="Safe vs unsafe hidden-state distance (mean over records, "
                      "scaled to each method's maximum)", xaxis_title="layer",
                      yaxis_title="relative distance", template="plotly_white")
    return fig


def region_toxicity_by_layer(rows: list[dict[str, float]]) -> go.Figure:
    """Mean and top-k mean cos(v_i, w) of every layer's MLP value vectors."""
    fig = go.Figure()
    layers = [r["layer"] for r in rows]
    fig.add_bar(name="mean cos(v_i, w)", x=layers, y=[r["mean"] for r in rows])
    fig.add_bar(name="top-k mean", x=layers, y=[r["top_k_mean"] for r in rows])
    fig.update_layout(title="Parameter toxicity of each layer's MLP value vectors",
                      xaxis_title="layer", yaxis_title="cosine with the toxic direction",
                      barmode="group", template="plotly_white")
    return fig


def value_vector_histogram(cosines: list[float], layer: int) -> go.Figure:
    """Histogram of cos(v_i, w) over the located layer's value vectors."""
    fig = go.Figure(go.Histogram(x=cosines, nbinsx=60))
    fig.update_layout(title=f"cos(v_i, w) of the {len(cosines)} value vectors of layer {layer}",
                      xaxis_title="cosine", yaxis_title="value vectors", template="plotly_white")
    return fig
