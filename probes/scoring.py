"""Parameter toxicity: how much each MLP value vector points along a probe's toxic direction.

TransformerLens stores an MLP's output matrix ``blocks.{l}.mlp.W_out`` as (d_mlp, d_model): row
``i`` is value vector ``v_i``, what neuron ``i`` adds to the residual stream per unit of
activation. With ``w`` the probe's unit direction (towards toxic), the **parameter toxicity** of
``v_i`` is ``cos(v_i, w)`` (Lee et al., ICML 2024), and a region's toxicity is the mean (and
top-k mean) of that over its value vectors (DINM, Wang et al., ACL 2024).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from interp.hooks import mlp_w_out
from probes.linear import LinearProbe

if TYPE_CHECKING:
    import pandas as pd
    from transformer_lens import HookedTransformer

__all__ = ["RegionToxicity", "ToxicSubspace", "region_toxicity", "top_toxic_value_vectors",
           "toxic_direction", "toxic_subspace", "value_vector_toxicity"]


def toxic_direction(model: HookedTransformer, probe: LinearProbe | Tensor) -> Float[Tensor, " d_model"]:
    """The unit toxic direction ``w`` of a probe (or of a given vector), checked against `model`.

    Returns
    -------
    Tensor of shape (d_model,)
        float32, CPU, unit L2 norm.
    """
    if isinstance(probe, LinearProbe):
        w = probe.direction
        source = f"probe (trained on {getattr(probe, 'hook_', 'an unknown hook')})"
    elif isinstance(probe, Tensor):
        if probe.dim() != 1:
            raise ValueError(f"a direction tensor must be 1-D (d_model,), got shape {tuple(probe.shape)}")
        w = probe.detach().float().cpu()
        source = "direction"
    else:
        raise TypeError(f"probe must be a LinearProbe or a 1-D tensor, got {type(probe).__name__}")
    d_model = model.cfg.d_model
    if w.shape[0] != d_model:
        raise ValueError(f"{source} has d_model={w.shape[0]} but model {model.cfg.model_name!r} has "
                         f"d_model={d_model}; train the probe on this model")
    norm = torch.linalg.vector_norm(w)
    if norm == 0:
        raise ValueError("the probe direction is the zero vector")
    return w / norm


def _check_layer(model: HookedTransformer, layer: Any) -> int:
    n_layers = model.cfg.n_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n_layers:
        raise ValueError(f"layer must be an int in [0, {n_layers - 1}] for model "
                         f"{model.cfg.model_name!r} ({n_layers} layers), got {layer!r}")
    return layer


def _w_out(model: HookedTransformer, layer: int) -> Float[Tensor, "d_mlp d_model"]:
    return model.blocks[layer].mlp.W_out.detach().float().cpu()


def value_vector_toxicity(
    model: HookedTransformer, probe: LinearProbe | Tensor, layer: int
) -> Float[Tensor, " d_mlp"]:
    """Cosine of every value vector of layer ``layer`` with the probe direction.

    Parameters
    ----------
    model : HookedTransformer
    probe : LinearProbe or Tensor of shape (d_model,)
        A fitted probe (its ``direction``) or a direction.
    layer : int
        Block index, 0 <= layer < n_layers.

    Returns
    -------
    Tensor of shape (d_mlp,)
        ``cos(W_out[layer][i], w)`` (float32, CPU); a zero value vector scores 0.
    """
    w = toxic_direction(model, probe)
    W = _w_out(model, _check_layer(model, layer))
    return F.cosine_similarity(W, w[None, :], dim=1)


@dataclass(frozen=True)
class RegionToxicity:
    """Parameter toxicity of one region. ``float(result)`` is ``mean``.

    Attributes
    ----------
    region : str
        E.g. ``"blocks.4.mlp.W_out"``.
    layer : int
    mean : float
        Mean cosine over the region's d_mlp value vectors.
    top_k_mean : float
        Mean of the ``k`` largest cosines.
    k : int
    max : float
    n : int
        Number of value vectors (d_mlp).
    """

    region: str
    layer: int
    mean: float
    top_k_mean: float
    k: int
    max: float
    n: int

    def __float__(self) -> float:
        return self.mean

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def region_toxicity(
    model: HookedTransformer,
    probe: LinearProbe | Tensor,
    region: Any,
    *,
    top_k: int | None = None,
) -> RegionToxicity:
    """Toxicity of a region's value vectors: mean and top-k mean of ``cos(v_i, w)``.

    Parameters
    ----------
    model : HookedTransformer
    probe : LinearProbe or Tensor of shape (d_model,)
    region : Region or int
        An ``mlp.W_out`` region (e.g. ``Localization.region``) or a layer index.
    top_k : int, optional
        Default: 1 % of d_mlp (at least 1).

    Returns
    -------
    RegionToxicity
        ``float(result)`` is the mean.
    """
    if isinstance(region, int) and not isinstance(region, bool):
        layer, name = region, mlp_w_out(region)
    elif hasattr(region, "layer"):
        if (getattr(region, "module", "mlp"), getattr(region, "parameter", "W_out")) != ("mlp", "W_out"):
            raise ValueError(f"region_toxicity scores mlp.W_out regions, got {region}")
        layer, name = region.layer, str(region)
    else:
        raise TypeError(f"region must be a Region or a layer index, got {type(region).__name__}")
    cos = value_vector_toxicity(model, probe, layer)
    n = cos.shape[0]
    k = max(1, math.ceil(0.01 * n)) if top_k is None else top_k
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"top_k must be an int in [1, {n}] (d_mlp), got {top_k!r}")
    return RegionToxicity(region=name, layer=layer, mean=float(cos.mean()),
                          top_k_mean=float(cos.topk(k).values.mean()), k=k,
                          max=float(cos.max()), n=n)


def _all_cosines(model: HookedTransformer, probe: LinearProbe | Tensor,
                 layers: Any) -> tuple[Tensor, Tensor, Tensor]:
    """(cosines, layer index, neuron index) of every value vector of ``layers``, flattened."""
    w = toxic_direction(model, probe)
    layers = range(model.cfg.n_layers) if layers is None else [_check_layer(model, l) for l in layers]
    cos, lay, idx = [], [], []
    for layer in layers:
        c = value_vector_toxicity(model, w, layer)
        cos.append(c)
        lay.append(torch.full_like(c, layer, dtype=torch.long))
        idx.append(torch.arange(len(c)))
    if not cos:
        raise ValueError("layers is empty")
    return torch.cat(cos), torch.cat(lay), torch.cat(idx)


def top_toxic_value_vectors(
    model: HookedTransformer,
    probe: LinearProbe | Tensor,
    *,
    k: int = 20,
    layers: Any = None,
) -> pd.DataFrame:
    """The ``k`` value vectors most aligned with the toxic direction, over all (or some) layers.

    Parameters
    ----------
    model : HookedTransformer
    probe : LinearProbe or Tensor of shape (d_model,)
        The probe, or its direction.
    k : int, default=20
        In ``[1, n_layers * d_mlp]`` (of the layers scored).
    layers : int or sequence of int, optional
        Default: every layer.

    Returns
    -------
    pandas.DataFrame
        Columns ``layer``, ``index`` (neuron), ``cosine``, sorted by decreasing cosine.
    """
    import pandas as pd

    cos, lay, idx = _all_cosines(model, probe, layers)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(cos):
        raise ValueError(f"k must be an int in [1, {len(cos)}], got {k!r}")
    top = torch.topk(cos, k)
    return pd.DataFrame({"layer": lay[top.indices].numpy(), "index": idx[top.indices].numpy(),
                         "cosine": top.values.numpy()})


@dataclass(frozen=True)
class ToxicSubspace:
    """SVD of the top-k toxic value vectors (each scaled to unit norm).

    Attributes
    ----------
    components : Tensor of shape (n_components, d_model)
        Orthonormal right singular vectors, each signed to have a non-negative dot product with
        the probe direction.
    singular_values : Tensor of shape (n_components,)
    explained_variance_ratio : Tensor of shape (n_components,)
        ``s_j^2 / sum(s^2)`` over all singular values of the k vectors.
    vectors : pandas.DataFrame
        The k value vectors used (``layer``, ``index``, ``cosine``).
    """

    components: Float[Tensor, "n_components d_model"]
    singular_values: Float[Tensor, " n_components"]
    explained_variance_ratio: Float[Tensor, " n_components"]
    vectors: pd.DataFrame


def toxic_subspace(
    model: HookedTransformer,
    probe: LinearProbe | Tensor,
    *,
    k: int = 64,
    n_components: int = 8,
    layers: Any = None,
) -> ToxicSubspace:
    """Principal directions of the ``k`` most toxic value vectors (Lee et al.'s SVD view).

    Parameters
    ----------
    model : HookedTransformer
    probe : LinearProbe or Tensor of shape (d_model,)
    k : int, default=64
        How many top value vectors (by cosine) to decompose.
    n_components : int, default=8
        At most ``min(k, d_model)``.
    layers : iterable of int, optional
        Default all layers.

    Returns
    -------
    ToxicSubspace
    """
    vectors = top_toxic_value_vectors(model, probe, k=k, layers=layers)
    limit = min(k, model.cfg.d_model)
    if isinstance(n_components, bool) or not isinstance(n_components, int) or not 1 <= n_components <= limit:
        raise ValueError(f"n_components must be an int in [1, {limit}] (min of k and d_model), got {n_components!r}")
    rows = torch.stack([_w_out(model, int(l))[int(i)] for l, i in zip(vectors["layer"], vectors["index"])])
    rows = F.normalize(rows, dim=1)
    _, s, vh = torch.linalg.svd(rows.double(), full_matrices=False)
    w = toxic_direction(model, probe).double()
    signs = torch.where(vh @ w < 0, -1.0, 1.0).to(vh.dtype)
    vh = vh * signs[:, None]
    ratio = s**2 / (s**2).sum()
    return ToxicSubspace(components=vh[:n_components].float(), singular_values=s[:n_components].float(),
                         explained_variance_ratio=ratio[:n_components].float(), vectors=vectors)
