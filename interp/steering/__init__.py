"""Steering: refusal by clamping Top-k SAE features (O'Brien et al. 2024), and its baselines.

* :mod:`.sae` -- :func:`train_topk_sae` (sae-lens's trainer fed by the toolkit's activation
  stream), :func:`load_sae`, :func:`sae_stats`
* :mod:`.texts` -- :func:`sae_texts` (the offline token sources per model)
* :mod:`.features` -- :func:`refusal_features` -> :class:`FeatureRanking`
* :mod:`.clamp` -- :func:`clamp` (context manager: one feature set to a value, SAE error kept)
* :mod:`.directions` -- :func:`refusal_direction` (difference in means), :func:`add_direction`,
  :func:`ablate_direction` (Arditi et al. 2024)
* :mod:`.sweep` -- :func:`steering_sweep`, :func:`clamp_sweep`, :func:`addition_sweep`,
  :func:`ablation_sweep` -> :class:`SteeringSweep` (table, figure, best value under an
  over-refusal budget)
* :mod:`.shift` -- :func:`feature_shift` (how an edit moves the SAE's features)

Examples
--------
>>> sae = train_topk_sae(model, "blocks.3.hook_resid_post", sae_texts(model))  # doctest: +SKIP
>>> ranking = refusal_features(model, sae, records)                             # doctest: +SKIP
>>> with clamp(model, sae, ranking[0], value=12.0):                             # doctest: +SKIP
...     texts = interp.generate(model, prompts)
"""

from interp.steering.clamp import POSITIONS, clamp, clamp_hook
from interp.steering.directions import ablate_direction, add_direction, refusal_direction
from interp.steering.features import FeatureRanking, feature_activations, refusal_features
from interp.steering.sae import collect_sae_activations, load_sae, sae_hook, sae_stats, train_topk_sae
from interp.steering.shift import FeatureShift, feature_shift
from interp.steering.sweep import SteeringSweep, ablation_sweep, addition_sweep, clamp_sweep, steering_sweep
from interp.steering.texts import sae_texts

__all__ = [
    "FeatureRanking",
    "FeatureShift",
    "POSITIONS",
    "SteeringSweep",
    "ablate_direction",
    "ablation_sweep",
    "add_direction",
    "addition_sweep",
    "clamp",
    "clamp_hook",
    "clamp_sweep",
    "collect_sae_activations",
    "feature_activations",
    "feature_shift",
    "load_sae",
    "refusal_direction",
    "refusal_features",
    "sae_hook",
    "sae_stats",
    "sae_texts",
    "steering_sweep",
    "train_topk_sae",
]
