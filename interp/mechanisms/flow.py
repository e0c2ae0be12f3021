"""Information flow into a region: the toxicity a region writes, and how an edit changes it.

A region is one layer's MLP output matrix ``W_out`` (d_mlp, d_model): row ``i`` is value vector
``v_i``, scaled by neuron ``i``'s activation ``m_i`` (TransformerLens ``blocks.{l}.mlp.hook_post``).
With ``w`` the probe's unit toxic direction, the toxicity the region writes along ``w``,
averaged over the tokens of a prompt set, is (DINM, Wang et al. 2024; DESIGN.md)

    C = sum_i  mean(m_i) * (v_i . w)

Between a base model (m, v) and an edited one (m + dm, v + dv) on the same tokens, the change
splits exactly into three terms:

    C' - C = sum_i dm_i (v_i . w)       activation term  (what flows in changed: suppression)
           + sum_i m_i (dv_i . w)       weight term      (the region's own parameters changed)
           + sum_i dm_i (dv_i . w)      cross term

DINM edits ``W_out`` of the located layer only, so its activation term there is exactly zero;
SFT and DPO are expected to move mostly the activation term.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Float
from torch import Tensor

from interp.activations import collect_activations
from interp.hooks import mlp_post, mlp_w_out
from interp.mechanisms.inputs import check_pair, prompt_texts

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["FlowShift", "RegionFlow", "flow_shift", "region_flow"]


def _layer_of(model: HookedTransformer, region: Any) -> int:
    layer = region if isinstance(region, int) and not isinstance(region, bool) else getattr(region, "layer", None)
    if (getattr(region, "module", "mlp"), getattr(region, "parameter", "W_out")) != ("mlp", "W_out"):
        raise ValueError(f"the information flow is defined for mlp.W_out regions, got {region}")
    n = model.cfg.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n:
        raise ValueError(f"region must be a Region or a layer index in [0, {n - 1}], got {region!r}")
    return layer


def _projections(model: HookedTransformer, layer: int, w: Tensor) -> tuple[Tensor, float]:
    """``W_out @ w`` (d_mlp,) in float64, and ``b_out . w`` (0 without a bias)."""
    mlp = model.blocks[layer].mlp
    proj = mlp.W_out.detach().double().cpu() @ w.double()
    bias = getattr(mlp, "b_out", None)
    return proj, (0.0 if bias is None else float(bias.detach().double().cpu() @ w.double()))


@dataclass(frozen=True)
class RegionFlow:
    """What one model's region writes along the toxic direction, on a prompt set.

    Attributes
    ----------
    layer : int
    mean_activation : Tensor of shape (d_mlp,)
        mean(m_i) over the selected tokens (float64).
    projection : Tensor of shape (d_mlp,)
        v_i . w (float64).
    toxicity : float
        C = sum_i mean(m_i) (v_i . w).
    n_tokens : int
    """

    layer: int
    mean_activation: Float[Tensor, " d_mlp"]
    projection: Float[Tensor, " d_mlp"]
    toxicity: float
    n_tokens: int
    bias: float = 0.0


def _per_text_means(models: Sequence[HookedTransformer], layer: int, texts: list[str], *,
                    keep_first_position: bool, batch_size: int, max_length: int | None) -> tuple[list[Tensor], Tensor]:
    """Each model's per-prompt mean ``m`` (n_prompts, d_mlp) and each prompt's token count."""
    from interp.models import tokenize

    toks = tokenize(models[0], texts, max_length=max_length)
    counts = toks.attention_mask.sum(1).double() - (0 if keep_first_position else 1)
    if (counts < 1).any():
        raise ValueError("a prompt has no token left to read (a one-token prompt with keep_first_position=False)")
    hook = mlp_post(layer)
    means = [collect_activations(model, toks, hook_names=[hook], reducer="mean",
                                 keep_first_position=keep_first_position, batch_size=batch_size,
                                 progress=False)[hook].double() for model in models]
    return means, counts


def _token_weighted(means: Tensor, weights: Tensor) -> Tensor:
    """Token-weighted mean over prompts: weights (..., n_prompts) x means (n_prompts, d) -> (..., d)."""
    return (weights @ means) / weights.sum(-1, keepdim=True)


def region_flow(
    model: HookedTransformer,
    region: Any,
    prompts: Sequence[Any],
    probe: Any,
    *,
    keep_first_position: bool = False,
    batch_size: int = 16,
    max_length: int | None = None,
) -> RegionFlow:
    """The toxicity `model`'s region writes along `probe`'s direction, averaged over prompt tokens.

    Parameters
    ----------
    model : HookedTransformer
    region : Region or int
        An ``mlp.W_out`` region (``Localization.region``) or a layer index.
    prompts : sequence of str (or objects with ``.text``)
        User prompts, wrapped with :func:`interp.chat_prompt`; every prompt token is read.
    probe : LinearProbe or Tensor of shape (d_model,)
    keep_first_position : bool, default=False
        The first token carries "massive activations" in many models (SmolLM2: norm ~2e4) that
        are the same for every prompt; it is left out by default.
    """
    import probes

    layer = _layer_of(model, region)
    w = probes.toxic_direction(model, probe)
    texts = prompt_texts(model, prompts, what="region_flow")
    [means], counts = _per_text_means([model], layer, texts, keep_first_position=keep_first_position,
                                      batch_size=batch_size, max_length=max_length)
    mean = _token_weighted(means, counts)
    proj, bias = _projections(model, layer, w)
    return RegionFlow(layer=layer, mean_activation=mean, projection=proj, toxicity=float(mean @ proj),
                      n_tokens=int(counts.sum()), bias=bias)


@dataclass(frozen=True)
class FlowShift:
    """The change of the toxicity a region writes, split into activation, weight and cross terms.

    ``before + activation_term + weight_term + cross_term == after`` (to float64 rounding).
    ``bias_shift`` is the change of ``b_out . w`` (outside C; nonzero only if the edit trained
    the bias). ``neurons`` (pandas) lists each neuron's three terms, largest ``|total|`` first.
    """

    region: str
    layer: int
    before: float
    after: float
    activation_term: float
    weight_term: float
    cross_term: float
    bias_shift: float
    n_prompts: int
    n_tokens: int
    neurons: Any = field(repr=False, default=None)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.after - self.before

    def shares(self) -> dict[str, float]:
        """Each term as a share of the total change (NaN when nothing changed)."""
        t = self.total
        terms = {"activation": self.activation_term, "weight": self.weight_term, "cross": self.cross_term}
        return {k: (v / t if t != 0 else float("nan")) for k, v in terms.items()}

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("neurons", "intervals")}
        d["total"] = self.total
        for key, (low, high) in self.intervals.items():
            d[f"{key}_low"], d[f"{key}_high"] = low, high
        return d

    def figure(self) -> Any:
        """plotly waterfall: C before, the three terms, C after."""
        import plotly.graph_objects as go

        fig = go.Figure(go.Waterfall(
            x=["C before", "activation term", "weight term", "cross term", "C after"],
            measure=["absolute", "relative", "relative", "relative", "total"],
            y=[self.before, self.activation_term, self.weight_term, self.cross_term, self.after]))
        fig.update_layout(title=f"Toxicity written by {self.region} ({self.n_prompts} prompts, {self.n_tokens} tokens)",
                          yaxis_title="C = sum_i mean(m_i) (v_i . w)", template="plotly_white")
        return fig


def flow_shift(
    base: HookedTransformer,
    edited: HookedTransformer,
    region: Any,
    prompts: Sequence[Any],
    probe: Any,
    *,
    keep_first_position: bool = False,
    batch_size: int = 16,
    max_length: int | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> FlowShift:
    """How an edit changes the toxicity `region` writes, split exactly into three terms.

    Both models read the same token ids (tokenised once with `base`'s tokenizer).

    Parameters
    ----------
    base, edited : HookedTransformer
        The same architecture (e.g. ``edited = interp.edits.sft(base, ...).model``).
    region : Region or int
        An ``mlp.W_out`` region or a layer index.
    prompts : sequence of str (or objects with ``.text``)
    probe : LinearProbe or Tensor of shape (d_model,)
        Trained on `base` (the direction is held fixed across the two models).
    keep_first_position, batch_size, max_length
        As in :func:`region_flow`.
    n_bootstrap : int, default=1000
        Prompt resamples for ``FlowShift.intervals`` (0: none).
    seed : int, default=0
        Seeds the resampling.

    Returns
    -------
    FlowShift

    Examples
    --------
    >>> shift = flow_shift(model, edited.model, loc.region, prompts, probe)  # doctest: +SKIP
    >>> shift.activation_term + shift.weight_term + shift.cross_term == shift.total  # doctest: +SKIP
    """
    import pandas as pd

    import probes

    check_pair(base, edited, what="flow_shift")
    layer = _layer_of(base, region)
    w = probes.toxic_direction(base, probe)
    texts = prompt_texts(base, prompts, what="flow_shift")
    (t0, t1), counts = _per_text_means([base, edited], layer, texts, keep_first_position=keep_first_position,
                                       batch_size=batch_size, max_length=max_length)
    m0, m1 = _token_weighted(t0, counts), _token_weighted(t1, counts)
    (p0, bias0), (p1, bias1) = _projections(base, layer, w), _projections(edited, layer, w)
    dm, dp = m1 - m0, p1 - p0
    act, wt, cross = dm * p0, m0 * dp, dm * dp
    intervals: dict[str, tuple[float, float]] = {}
    if n_bootstrap:
        gen = torch.Generator().manual_seed(seed)
        draws = torch.randint(len(texts), (n_bootstrap, len(texts)), generator=gen)
        weights = torch.zeros(n_bootstrap, len(texts), dtype=torch.float64)
        weights.scatter_add_(1, draws, counts[draws])
        b0, b1 = _token_weighted(t0, weights), _token_weighted(t1, weights)
        terms = {"activation_term": (b1 - b0) @ p0, "weight_term": b0 @ dp, "cross_term": (b1 - b0) @ dp}
        terms["total"] = b1 @ p1 - b0 @ p0
        intervals = {k: (float(v.quantile(0.025)), float(v.quantile(0.975))) for k, v in terms.items()}
    neurons = pd.DataFrame({"neuron": range(len(m0)), "mean_activation_before": m0.numpy(),
                            "mean_activation_after": m1.numpy(), "projection_before": p0.numpy(),
                            "projection_after": p1.numpy(), "activation_term": act.numpy(),
                            "weight_term": wt.numpy(), "cross_term": cross.numpy()})
    neurons["total"] = neurons[["activation_term", "weight_term", "cross_term"]].sum(axis=1)
    neurons = neurons.reindex(neurons["total"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    return FlowShift(region=mlp_w_out(layer), layer=layer, before=float(m0 @ p0), after=float(m1 @ p1),
                     activation_term=float(act.sum()), weight_term=float(wt.sum()), cross_term=float(cross.sum()),
                     bias_shift=bias1 - bias0, n_prompts=len(texts), n_tokens=int(counts.sum()), neurons=neurons,
                     intervals=intervals)
