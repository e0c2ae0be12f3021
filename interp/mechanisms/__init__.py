"""Mechanisms: what an edit changed inside a model, measured on identical token streams.

* :mod:`.flow` -- :func:`region_flow`, :func:`flow_shift`: the toxicity a region writes,
  C = sum_i mean(m_i) (v_i . w), and its change split exactly into activation, weight and
  cross terms (:class:`FlowShift`)
* :mod:`.residual` -- :func:`residual_shift`: the residual stream entering the region
  (||dx||, ||dx|| / E||x||, offset consistency) and the bypass share of the MLP pre-activation change
* :mod:`.readout` -- :func:`probe_readout`, :func:`readout_shift`: w . resid_post per layer
* :mod:`.weights` -- :func:`weight_diff`: ||dW||_F, relative, stable rank per parameter
* :mod:`.drift` -- :func:`harmful_embedding_drift`: Vaccine's HED and a mask-aware per-sample drift
* :mod:`.inputs` -- :func:`check_pair`, :func:`paired_activations` (both models, same token ids)

All activations go through :func:`interp.activations.collect_activations`.
"""

from interp.mechanisms.drift import EmbeddingDrift, harmful_embedding_drift
from interp.mechanisms.flow import FlowShift, RegionFlow, flow_shift, region_flow
from interp.mechanisms.inputs import check_pair, paired_activations, prompt_texts, sequence_texts
from interp.mechanisms.readout import ReadoutShift, probe_readout, readout_shift
from interp.mechanisms.residual import ResidualShift, mlp_preactivation, residual_shift
from interp.mechanisms.weights import weight_diff

__all__ = [
    "EmbeddingDrift", "FlowShift", "ReadoutShift", "RegionFlow", "ResidualShift",
    "check_pair", "flow_shift", "harmful_embedding_drift", "mlp_preactivation", "paired_activations",
    "probe_readout", "prompt_texts", "readout_shift", "region_flow", "residual_shift", "sequence_texts",
    "weight_diff",
]
