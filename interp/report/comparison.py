"""The comparison report: one self-contained HTML file from a mechanism comparison.

:func:`render_comparison` takes any object with the attributes of
:class:`interp.compare.MechanismComparison` (``meta``, ``claims``, ``summary()``, ``figures``,
``samples``, ``table``) and writes each section's plain-language reading from its numbers
(:func:`readings`). plotly.js is inlined once; jinja2 escapes every model generation.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["readings", "render_comparison"]


def _get(summary: Any, method: str, col: str) -> float:
    rows = summary[summary["method"] == method]
    return float(rows[col].iloc[0]) if len(rows) and col in rows else math.nan


def _pct(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{v:.1f} %"


def readings(result: Any) -> dict[str, str]:
    """One plain-language paragraph per figure title, written from the result's numbers."""
    s = result.summary()
    methods = [m for m in s["method"] if m != "base"]
    out: dict[str, str] = {}
    base_ds = _get(s, "base", "ds")
    parts = [f"{m}: DS {_pct(_get(s, m, 'ds'))}, over-refusal {_pct(_get(s, m, 'over_refusal'))}, KQA "
             f"{_pct(_get(s, m, 'kqa'))}" for m in methods]
    out["Behaviour per method"] = (f"The base model answers {_pct(base_ds)} of the attack prompts safely "
                                   f"(over-refusal {_pct(_get(s, 'base', 'over_refusal'))}, KQA "
                                   f"{_pct(_get(s, 'base', 'kqa'))}). After each method: " + "; ".join(parts) + ".")
    tox = {m: _get(s, m, "region_toxicity_topk_change_pct") for m in methods}
    most = min(tox, key=lambda m: tox[m] if not math.isnan(tox[m]) else math.inf) if tox else None
    out["Region toxicity"] = ("Relative change of the top-1 % cosines between the region's value vectors and the toxic "
                              "direction (the most toxic value vectors): " + ", ".join(f"{m} {tox[m]:+.2f} %"
                                                                                      for m in methods)
                              + (f". {most} lowers them most." if most and tox[most] < 0 else
                                 ". No method lowers them." if tox else "")
                              + " The mean over all value vectors is close to 0, so its relative change (boxes) is "
                                "large and unstable.")
    flows = []
    for m in methods:
        a, w, t = (_get(s, m, f"flow_{k}_term") for k in ("activation", "weight", "cross"))
        main = "activations" if abs(a) > abs(w) else "weights"
        flows.append(f"{m}: activation {a:+.3g}, weight {w:+.3g}, cross {t:+.3g} (mostly {main})")
    out["Information flow into the region"] = (
        "The change of C splits exactly into what flows into the region (activation term), the region's own "
        "parameters (weight term) and their product (cross term). " + "; ".join(flows) + ".")
    out["Probe readout per layer"] = ("Each line is the change, per layer, of the residual stream's projection on the "
                                      "toxic direction over the evaluation prompts; a drop that starts at a layer "
                                      "shows where a method begins to remove the toxic component.")
    out["Weight differences"] = ("Darker cells are blocks a method left (almost) unchanged. " + "; ".join(
        f"{m}: ||dW||_F {_get(s, m, 'weight_diff_total'):.3g}" for m in methods) + ".")
    if "hed" in s:
        out["Harmful embedding drift"] = ("Mean per-token drift of the alignment data's attention outputs after the "
                                          "same harmful fine-tuning attack: " + ", ".join(
                                              f"{m} {_get(s, m, 'hed'):.3g}" for m in s["method"]) + ".")
    if "attack_ds" in s or "keys_ds" in s:
        out["Permanence"] = ("DS after the method, after the attack and after scaling the toxic keys: " + "; ".join(
            f"{m} {_pct(_get(s, m, 'ds'))} -> {_pct(_get(s, m, 'attack_ds'))} / {_pct(_get(s, m, 'keys_ds'))}"
            for m in s["method"]) + ".")
    out["Does the located layer edit best?"] = ("DINM applied at each layer to the same records: the generalization "
                                                "refusal gain per layer, with the layers the locators pick.")
    return out


def render_comparison(result: Any) -> str:
    """The HTML report of a mechanism comparison, as a string."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("interp.report", "templates"), autoescape=True)
    figs = {}
    for i, (name, fig) in enumerate(result.figures.items()):
        figs[name] = fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
    summary = result.summary()
    cols = ["method", "n_runs"] + [c for c in ("ds", "dg_avg", "over_refusal", "kqa", "fluency",
                                               "region_toxicity_topk_change_pct", "bypass_share", "hed", "attack_ds",
                                               "keys_ds", "edit_seconds") if c in summary]
    return env.get_template("comparison.html.j2").render(
        meta=result.meta, claims=result.claims.to_dict("records"), figs=figs, readings=readings(result),
        summary_table=summary[cols].to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="-"),
        differences_table=result.differences().to_html(index=False, float_format=lambda v: f"{v:+.1f}", na_rep="-"),
        full_table=result.table.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-"),
        samples=result.samples)
