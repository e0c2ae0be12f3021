"""Harmful Embedding Drift (HED, Vaccine: Huang et al., NeurIPS 2024).

After a harmful fine-tuning attack, the hidden embeddings of the *alignment* data drift away
from where the aligned model put them. Vaccine measures the drift at every attention module's
output (TransformerLens ``blocks.{l}.hook_attn_out``) and reports, in its code
(``EmbeddingCallback`` in the paper's ``train.py``), the sum over batches and layers of the
squared Frobenius norm of the difference, with the batches right-padded and the model called
without an attention mask:

    HED_vaccine = sum_batches sum_l || attn_out_l(attacked) - attn_out_l(aligned) ||_F^2

That number grows with the number of samples, their padded lengths and the batch size, so it
only compares runs on the same data and batching. For comparing methods this module also
reports a mask-aware per-sample drift: for sample s,

    drift_s = mean over its real tokens t of  sqrt( sum_l || d attn_out_l[s, t] ||^2 )

and its mean over samples with a 95 % t-interval, plus the per-layer mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp.hooks import attn_out
from interp.intervals import mean_interval
from interp.mechanisms.inputs import check_pair, paired_activations, sequence_texts

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["EmbeddingDrift", "harmful_embedding_drift"]


@dataclass(frozen=True)
class EmbeddingDrift:
    """HED of one aligned / attacked pair on the alignment data.

    Attributes
    ----------
    vaccine_hed : float
        Vaccine's sum of squares (right padding read as tokens, batches of `batch_size`).
    per_sample_mean, per_sample_low, per_sample_high : float
        Mask-aware per-sample drift (mean over real tokens of the per-token L2 across layers),
        its mean over samples and 95 % t-interval.
    per_sample : ndarray of shape (n_samples,)
    per_layer : ndarray of shape (n_layers,)
        Mean over real tokens of || d attn_out_l ||.
    n_samples, batch_size : int
    """

    vaccine_hed: float
    per_sample_mean: float
    per_sample_low: float
    per_sample_high: float
    per_sample: np.ndarray = field(repr=False)
    per_layer: np.ndarray = field(repr=False)
    n_samples: int = 0
    batch_size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"vaccine_hed": self.vaccine_hed, "per_sample_mean": self.per_sample_mean,
                "per_sample_low": self.per_sample_low, "per_sample_high": self.per_sample_high,
                "n_samples": self.n_samples, "batch_size": self.batch_size,
                "per_layer": [float(v) for v in self.per_layer]}


def harmful_embedding_drift(
    aligned: HookedTransformer,
    attacked: HookedTransformer,
    data: Sequence[Any],
    *,
    batch_size: int = 8,
    max_length: int | None = None,
) -> EmbeddingDrift:
    """Harmful Embedding Drift of `attacked` from `aligned` on the alignment data.

    Parameters
    ----------
    aligned : HookedTransformer
        The model after alignment (e.g. ``interp.edits.vaccine(base, train).model``).
    attacked : HookedTransformer
        `aligned` after a harmful fine-tuning attack (``interp.edits.harmful_finetune``).
    data : sequence of (prompt, response) pairs, or of str
        The alignment data: pairs become full chat sequences (as Vaccine feeds prompt and
        answer); strings are taken as already formatted texts.
    batch_size : int, default=8
        Batches of Vaccine's sum (its value depends on the batching through the padding).

    Returns
    -------
    EmbeddingDrift

    Examples
    --------
    >>> pairs = [(r.adversarial_prompt, r.safe_generation) for r in train[:32]]  # doctest: +SKIP
    >>> harmful_embedding_drift(aligned, attacked, pairs).per_sample_mean  # doctest: +SKIP
    """
    check_pair(aligned, attacked, what="harmful_embedding_drift")
    if isinstance(data, str) or not len(data):
        raise ValueError("harmful_embedding_drift: data must be a non-empty sequence of (prompt, response) or str")
    texts = (list(data) if all(isinstance(d, str) for d in data)
             else sequence_texts(aligned, data, what="harmful_embedding_drift"))
    n_layers = aligned.cfg.n_layers
    hooks = [attn_out(layer) for layer in range(n_layers)]
    total = 0.0
    per_sample: list[float] = []
    layer_sum = np.zeros(n_layers)
    n_tokens = 0
    with torch.no_grad():
        # Vaccine's number: right padding, no attention mask, padding counted
        for a, b, _ in paired_activations(aligned, attacked, texts, hooks, chunk=batch_size, padding_side="right",
                                          attend_padding=True, max_length=max_length):
            total += sum(float(((b[h].double() - a[h].double()) ** 2).sum()) for h in hooks)
        # the mask-aware per-sample drift
        for a, b, mask in paired_activations(aligned, attacked, texts, hooks, chunk=batch_size,
                                             max_length=max_length):
            sq = torch.stack([((b[h].double() - a[h].double()) ** 2).sum(-1) for h in hooks])  # (layer, n, pos)
            per_token = sq.sum(0).sqrt()
            m = mask.double()
            per_sample.extend((per_token * m).sum(1).div(m.sum(1)).tolist())
            layer_sum += (sq.sqrt() * m).sum(dim=(1, 2)).numpy()
            n_tokens += int(m.sum())
    mean, low, high = mean_interval(per_sample)
    return EmbeddingDrift(vaccine_hed=total, per_sample_mean=mean, per_sample_low=low, per_sample_high=high,
                          per_sample=np.array(per_sample), per_layer=layer_sum / max(n_tokens, 1),
                          n_samples=len(texts), batch_size=batch_size)
