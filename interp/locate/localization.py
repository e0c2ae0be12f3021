"""What toxic-layer location returns: :class:`Localization` per record, :class:`LocationSummary`
over many, and :class:`Region`, the parameter matrix of a layer (by default the MLP's ``W_out``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Float
from torch import Tensor

from interp.hooks import block_param

if TYPE_CHECKING:
    import pandas as pd
    from transformer_lens import HookedTransformer

__all__ = ["Localization", "LocationSummary", "Region"]

_HF_MLP_OUT = {
    "gpt2": "transformer.h.{layer}.mlp.c_proj.weight",
    "llama": "model.layers.{layer}.mlp.down_proj.weight",
    "mistral": "model.layers.{layer}.mlp.down_proj.weight",
}


@dataclass(frozen=True)
class Region:
    """A parameter matrix of one layer: by default the MLP output matrix ``W_out``.

    Attributes
    ----------
    layer : int
        Block index, 0-based.
    module : str, default="mlp"
    parameter : str, default="W_out"
        TransformerLens name; ``W_out`` has shape (d_mlp, d_model): row ``i`` is value vector
        ``v_i``, the direction neuron ``i`` writes into the residual stream.
    """

    layer: int
    module: str = "mlp"
    parameter: str = "W_out"

    def __post_init__(self) -> None:
        if isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < 0:
            raise ValueError(f"Region.layer must be an int >= 0, got {self.layer!r}")

    @property
    def tl_name(self) -> str:
        """TransformerLens parameter name, e.g. ``"blocks.3.mlp.W_out"``."""
        return block_param(self.layer, self.module, self.parameter)

    def hf_name(self, model_type: str) -> str:
        """Hugging Face parameter name for ``model_type`` (``"gpt2"``, ``"llama"``, ``"mistral"``).

        Note the layouts differ: GPT-2's ``c_proj.weight`` (a Conv1D) is stored (d_mlp, d_model)
        like ``W_out``; Llama's ``down_proj.weight`` is (d_model, d_mlp), the transpose.
        """
        if (self.module, self.parameter) != ("mlp", "W_out"):
            raise ValueError(f"hf_name is only defined for mlp.W_out regions, not {self.tl_name!r}")
        if model_type not in _HF_MLP_OUT:
            raise ValueError(f"unknown model_type {model_type!r}; valid: {sorted(_HF_MLP_OUT)}")
        return _HF_MLP_OUT[model_type].format(layer=self.layer)

    def weight(self, model: HookedTransformer) -> Float[Tensor, "d_mlp d_model"]:
        """The region's parameter in ``model`` (the live ``nn.Parameter``: clone before changing it)."""
        n_layers = model.cfg.n_layers
        if self.layer >= n_layers:
            raise ValueError(f"region {self} is outside model {model.cfg.model_name!r} "
                             f"({n_layers} layers, 0..{n_layers - 1})")
        try:
            return getattr(getattr(model.blocks[self.layer], self.module), self.parameter)
        except AttributeError:
            raise ValueError(f"model {model.cfg.model_name!r} has no parameter {self.tl_name!r}") from None

    def __str__(self) -> str:
        return self.tl_name


@dataclass(frozen=True)
class Localization:
    """Where one record's safe and unsafe answers part most.

    Attributes
    ----------
    distances : Tensor of shape (n_layers,)
        Safe-vs-unsafe distance at each layer (float32, CPU); meaning depends on ``method``.
    layer : int
        ``argmax(distances)`` (the first one on ties).
    region : Region
        That layer's MLP output matrix.
    method : str
        One of :data:`LOCATE_METHODS`.
    record_id : int, str or None
        ``record.id``.
    """

    distances: Float[Tensor, " n_layers"]
    layer: int
    region: Region
    method: str
    record_id: int | str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "method": self.method, "layer": self.layer,
                "region": str(self.region), "distances": self.distances.tolist()}


@dataclass
class LocationSummary:
    """Localizations of many records and the distribution of the chosen layers.

    Attributes
    ----------
    localizations : list of Localization
    method : str
    distances : Tensor of shape (n_records, n_layers)
    layer_counts : collections.Counter
        ``{layer: number of records that chose it}``.
    """

    localizations: list[Localization]
    method: str
    distances: Float[Tensor, "n_records n_layers"] = field(init=False)
    layer_counts: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.distances = torch.stack([loc.distances for loc in self.localizations])
        self.layer_counts = Counter(loc.layer for loc in self.localizations)

    def to_frame(self) -> pd.DataFrame:
        """One row per record: ``record_id``, ``layer``, then ``d{l}`` for every layer."""
        import pandas as pd

        frame = pd.DataFrame(self.distances.numpy(), columns=[f"d{l}" for l in range(self.distances.shape[1])])
        frame.insert(0, "layer", [loc.layer for loc in self.localizations])
        frame.insert(0, "record_id", [loc.record_id for loc in self.localizations])
        return frame

    def __len__(self) -> int:
        return len(self.localizations)

    def __str__(self) -> str:
        counts = sorted(self.layer_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"layer {layer}: {n}" for layer, n in counts)
