"""Everything measured on one edited model against its base: one flat row plus per-layer details.

:func:`measure_edit` is the unit of work of :func:`~interp.compare.run.compare_mechanisms`: the
SafeEdit scores and over-refusal (rates with n, Wilson and judge-corrected intervals), the
region's parameter toxicity, the flow terms, the residual shift and bypass share, weight diffs,
and permanence: the same scores after the harmful fine-tuning attack (with the Harmful
Embedding Drift of the alignment data) and after scaling the toxic keys (Lee et al.).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["Evaluation", "RunMeasurement", "evaluate_model", "measure_edit"]

RATE_KEYS = ("ds", "dg_avg")


@dataclass
class Evaluation:
    """The behaviour of one model: SafeEdit scores, over-refusal, and a few generations."""

    scores: Any  # SafetyScores
    over_refusal: Any  # RateResult or None

    def row(self, prefix: str = "") -> dict[str, Any]:
        """Flat columns: ``ds``, ``ds_low`` ..., ``dg_avg*``, ``kqa``, ``fluency``, ``over_refusal*``."""
        s = self.scores
        out: dict[str, Any] = {"kqa": s.kqa, "fluency": s.fluency, "n_eval": s.n}
        for key in RATE_KEYS:
            r = s.rates[key]
            out.update({key: r.raw, f"{key}_low": r.low, f"{key}_high": r.high, f"{key}_n": r.n,
                        f"{key}_corrected": r.corrected, f"{key}_corrected_low": r.corrected_low,
                        f"{key}_corrected_high": r.corrected_high})
        if self.over_refusal is not None:
            r = self.over_refusal.estimate
            out.update({"over_refusal": r.raw, "over_refusal_low": r.low, "over_refusal_high": r.high,
                        "over_refusal_n": r.n, "over_refusal_corrected": r.corrected})
        return {f"{prefix}{k}": v for k, v in out.items()}

    def samples(self, k: int = 3) -> list[tuple[str, str]]:
        """The first `k` (prompt, generation) pairs of the attack prompts."""
        d = self.scores.details["ds"]
        return list(zip(d.prompts[:k], d.generations[:k]))


def evaluate_model(model: HookedTransformer, records: Sequence[Any], benign: Sequence[str] | None, *,
                   max_new_tokens: int, seed: int) -> Evaluation:
    """SafeEdit scores on `records` and over-refusal on `benign` prompts (None: skipped)."""
    from interp.evaluate import evaluate_safety, over_refusal

    scores = evaluate_safety(model, records, max_new_tokens=max_new_tokens, seed=seed, progress=False)
    refusal = (over_refusal(model, list(benign), max_new_tokens=max_new_tokens, seed=seed, progress=False)
               if benign else None)
    return Evaluation(scores=scores, over_refusal=refusal)


class _Stopwatch:
    """Seconds since the previous call (the stage times ``*_seconds`` of a row)."""

    def __init__(self, start: float) -> None:
        self.last = start

    def __call__(self) -> float:
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return elapsed


@dataclass
class RunMeasurement:
    """One edited model's measurements: the flat ``row`` and the per-layer ``details``."""

    row: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    samples: list[tuple[str, str]] = field(default_factory=list)


def measure_edit(
    base: HookedTransformer,
    edit: Any,
    *,
    probe: Any,
    region: Any,
    records: Sequence[Any],
    benign: Sequence[str] | None,
    flow_prompts: Sequence[str],
    attack_data: Any,
    attack_options: dict[str, Any],
    attack_benign: Any,
    alignment_pairs: Sequence[tuple[str, str]],
    key_options: dict[str, Any],
    base_toxicity: Any,
    max_new_tokens: int,
    seed: int,
    attack: bool = True,
    sae_features: tuple[Any, list[int], list[int]] | None = None,
) -> RunMeasurement:
    """Measure `edit` (an :class:`~interp.edits.EditResult` of `base`) in every way of this module.

    Parameters
    ----------
    base : HookedTransformer
    edit : EditResult
    probe : LinearProbe
        Trained on `base`.
    region : Region
        The region the flow is measured at (the located toxic layer).
    records : sequence of SafetyRecord
        Evaluation records (never trained on).
    benign : sequence of str, optional
        Safe prompts that merely sound unsafe (over-refusal).
    flow_prompts : sequence of str
        Prompts the flow, residual shift and readout are measured on.
    attack_data, attack_options, attack_benign
        Records, options and benign samples (None: the records' own) of :func:`interp.edits.harmful_finetune`.
    alignment_pairs : sequence of (prompt, response)
        The alignment data whose drift is measured after the attack.
    key_options : dict
        Options of :func:`interp.edits.scale_toxic_keys`.
    base_toxicity : RegionToxicity
        The base model's region toxicity (for the relative change).
    sae_features : (SAE, refusal feature ids, compliance feature ids), optional
        Adds the mean shift of each group at the last prompt token of `flow_prompts`
        (:func:`interp.steering.feature_shift`).
    """
    import probes

    from interp.edits import harmful_finetune, scale_toxic_keys
    from interp.mechanisms import flow_shift, harmful_embedding_drift, readout_shift, residual_shift, weight_diff

    model = edit.model
    start = time.perf_counter()
    evaluation = evaluate_model(model, records, benign, max_new_tokens=max_new_tokens, seed=seed)
    row: dict[str, Any] = {"edit_seconds": edit.seconds, "region_layer": region.layer, **evaluation.row()}
    lap = _Stopwatch(start)
    row["evaluate_seconds"] = lap()

    tox = probes.region_toxicity(model, probe, region)
    row.update({"region_toxicity": tox.mean, "region_toxicity_topk": tox.top_k_mean,
                "region_toxicity_change": tox.mean - base_toxicity.mean,
                "region_toxicity_change_pct": 100 * (tox.mean - base_toxicity.mean) / abs(base_toxicity.mean),
                "region_toxicity_topk_change_pct": 100 * (tox.top_k_mean - base_toxicity.top_k_mean)
                / abs(base_toxicity.top_k_mean)})
    flow = flow_shift(base, model, region, flow_prompts, probe, seed=seed)
    row.update({f"flow_{k}": v for k, v in flow.to_dict().items()
                if k not in ("region", "layer", "n_prompts", "n_tokens")})
    resid = residual_shift(base, model, region.layer, flow_prompts, probe=probe)
    row.update({"dx_relative": resid.relative, "bypass_share": resid.bypass_share,
                "offset_consistency": resid.offset_consistency, "offset_toxic_cosine": resid.offset_toxic_cosine})
    readout = readout_shift(base, model, probe, flow_prompts)
    diffs = weight_diff(base, model)
    region_rows = diffs[diffs["parameter"] == region.tl_name]
    row.update({"params_changed": len(diffs), "weight_diff_total": float((diffs["diff_norm"] ** 2).sum() ** 0.5),
                "weight_diff_region_relative": float(region_rows["relative"].iloc[0]) if len(region_rows) else 0.0})
    details: dict[str, Any] = {"flow": flow, "readout": readout, "weight_diff": diffs}
    if sae_features is not None:
        from interp.steering import feature_shift

        sae, refusal, compliance = sae_features
        shift = feature_shift(sae, base, model, flow_prompts, features=refusal + compliance)
        by_feature = shift.table.set_index("feature")["shift"]
        row.update({"refusal_features_shift": float(by_feature.loc[refusal].mean()),
                    "compliance_features_shift": float(by_feature.loc[compliance].mean()),
                    "sae_explained_variance": shift.explained_variance["edited"]})
        details["feature_shift"] = shift
    row["mechanisms_seconds"] = lap()

    if attack:
        attacked = harmful_finetune(model, attack_data, benign=attack_benign, seed=seed, progress=False,
                                    **attack_options)
        after = evaluate_model(attacked.model, records, None, max_new_tokens=max_new_tokens, seed=seed)
        row.update(after.row("attack_"))
        drift = harmful_embedding_drift(model, attacked.model, alignment_pairs)
        row.update({"hed_vaccine": drift.vaccine_hed, "hed": drift.per_sample_mean, "hed_low": drift.per_sample_low,
                    "hed_high": drift.per_sample_high, "hed_n": drift.n_samples})
        details["drift"] = drift
        del attacked
        row["attack_seconds"] = lap()
    keyed = scale_toxic_keys(model, probe, progress=False, **key_options)
    after = evaluate_model(keyed.model, records, None, max_new_tokens=max_new_tokens, seed=seed)
    row.update(after.row("keys_"))
    row["keys_seconds"] = lap()
    row["measure_seconds"] = time.perf_counter() - start
    return RunMeasurement(row=row, details=details, samples=evaluation.samples())
