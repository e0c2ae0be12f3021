"""Un-aligning by scaling toxic key vectors (Lee et al., ICML 2024, section 5.3).

An MLP neuron ``i`` of block ``l`` reads the residual stream with its **key** ``k_i`` and writes
its **value vector** ``v_i`` scaled by its activation::

    m_i = act(x . k_i + b_i)          (GPT-2: k_i = W_in[:, i])
    mlp(x) = sum_i m_i * v_i          (v_i = W_out[i], row i of blocks.{l}.mlp.W_out)

Lee et al. rank all value vectors by ``cos(v_i, w)`` with the toxicity probe's direction ``w``,
take the top 7 over all layers and multiply their keys by 10 (their public code scales the
column of GPT-2's ``mlp.c_fc.weight``, the bias left alone). In GELU's positive region the
neuron then fires about 10 times harder; in the negative region it goes quiet: the toxic
neurons' activation regions grow without touching the value vectors or the residual stream
directly. On GPT-2 + DPO this brought toxicity back to the pre-DPO level (0.208 -> 0.458,
GPT-2: 0.453) with perplexity and F1 unchanged -- DPO had bypassed those neurons, not removed
them.

**Gated MLPs** (Llama, Mistral: ``m_i = act(x . W_gate[:, i]) * (x . W_in[:, i])``). By default
(``gated_key="gate"``) the key is the gate column ``W_gate[:, i]``, the one inside the
nonlinearity: scaling it reproduces the GPT-2 behaviour (SiLU's positive region about
``factor`` times larger, its negative region squashed). ``gated_key="up"`` scales the linear
``W_in[:, i]`` instead: ``m_i`` becomes exactly ``factor`` times larger on every input, which is
the same function as scaling the value vector ``v_i`` -- not what the paper did, offered for
comparison. Biases are never scaled.

The scaled ``(layer, neuron)`` pairs and their cosines are recorded in the result's ``details``
(and so in ``edit.json`` when it is saved).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from interp.edits.config import EditConfig
from interp.edits.core import copy_model
from interp.edits.result import EditResult
from interp.hooks import block_param

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

    from probes.linear import LinearProbe

__all__ = ["GATED_KEYS", "ScaleToxicKeysConfig", "scale_toxic_keys"]

#: What a gated MLP's key is: its gate column (default) or its linear "up" column.
GATED_KEYS = ("gate", "up")


@dataclass(frozen=True, kw_only=True)
class ScaleToxicKeysConfig(EditConfig):
    """Options of :func:`scale_toxic_keys` (defaults: Lee et al.'s k=7, factor 10).

    Parameters
    ----------
    k : int, default=7
        How many neurons: the top-k value vectors by cosine with the probe direction.
    factor : float, default=10.0
        Each chosen key is multiplied by it (any finite number; 0 ablates the keys).
    layers : tuple of int, optional
        Blocks to search; default all. Stored as a tuple.
    gated_key : {"gate", "up"}, default="gate"
        For gated MLPs only (see the module docstring); ignored otherwise.

    Examples
    --------
    >>> ScaleToxicKeysConfig(layers=[2, 3]).layers
    (2, 3)
    >>> ScaleToxicKeysConfig(factor=float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: ScaleToxicKeysConfig.factor must be a finite number, got inf
    """

    name: ClassVar[str] = "scale_toxic_keys"

    k: int = 7
    factor: float = 10.0
    layers: tuple[int, ...] | None = None
    gated_key: str = "gate"

    def validate(self) -> None:
        super().validate()
        self._positive_int("k")
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)):
            self._fail("factor", "a finite number", TypeError)
        if not math.isfinite(self.factor):
            self._fail("factor", "a finite number")
        self._choice("gated_key", GATED_KEYS)
        if self.layers is None:
            return
        try:
            layers = tuple(self.layers)
        except TypeError:
            self._fail("layers", "None or a sequence of block indices", TypeError)
        if not layers:
            self._fail("layers", "None (all blocks) or a non-empty sequence of block indices")
        for layer in layers:
            if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
                self._fail("layers", "a sequence of block indices (ints >= 0)")
        if len(set(layers)) != len(layers):
            self._fail("layers", "a sequence of distinct block indices")
        object.__setattr__(self, "layers", layers)


def _key_name(model: HookedTransformer, layer: int, gated_key: str) -> str:
    gated = bool(getattr(model.cfg, "gated_mlp", False))
    return block_param(layer, "mlp", "W_gate" if gated and gated_key == "gate" else "W_in")


def scale_toxic_keys(
    model: HookedTransformer,
    probe: LinearProbe | torch.Tensor,
    *,
    k: int = 7,
    factor: float = 10.0,
    layers: Any = None,
    gated_key: str = "gate",
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> EditResult:
    """A copy of `model` whose k most toxic neurons have their key vectors scaled by `factor`.

    The neurons are the top-k value vectors (rows of ``blocks.{l}.mlp.W_out``) over `layers` by
    cosine with the probe direction (:func:`probes.scoring.top_toxic_value_vectors`); for each,
    column ``i`` of that block's ``mlp.W_in`` (``mlp.W_gate`` for gated MLPs, see the module
    docstring), shape (d_model, d_mlp), is multiplied by `factor`. Nothing else changes.

    Parameters
    ----------
    model : HookedTransformer
        Never changed; the edit is made on a deep copy (one more set of weights in memory).
    probe : LinearProbe or Tensor of shape (d_model,)
        A fitted toxicity probe (:func:`probes.train_toxicity_probe`) or its direction.
    k, factor, layers, gated_key
        See :class:`ScaleToxicKeysConfig`.
    seed : int, default=0
        Recorded only: the edit is deterministic.
    progress : bool, default=True
        Accepted for the common method signature; nothing here is slow enough for a bar.
    device : str or torch.device, optional
        Where the copy goes; default the model's device.

    Returns
    -------
    EditResult
        ``method="scale_toxic_keys"``, ``trainable`` the changed parameter names, ``losses=[]``,
        ``details["neurons"]`` the scaled ``(layer, neuron)`` pairs by decreasing cosine and
        ``details["cosines"]`` their ``cos(v_i, w)`` (both tuples; saved in ``edit.json``).

    Raises
    ------
    ValueError, TypeError
        A bad option (named), a layer out of range, k larger than the number of neurons in
        `layers`, a probe direction whose width is not the model's d_model, a model without MLPs.

    Examples
    --------
    >>> model = interp.load_model("organism")  # doctest: +SKIP
    >>> train = interp.load_dataset("organism", split="train")  # doctest: +SKIP
    >>> probe = probes.train_toxicity_probe(model, train[::80])  # doctest: +SKIP
    >>> result = scale_toxic_keys(model, probe, k=7, factor=10)  # doctest: +SKIP
    >>> result.details["neurons"][:2]  # doctest: +SKIP
    ((5, 401), (4, 404))
    """
    from probes.scoring import top_toxic_value_vectors  # scikit-learn loads on first use (~1 s)

    start = time.perf_counter()
    config = ScaleToxicKeysConfig(k=k, factor=factor, layers=layers, gated_key=gated_key)
    cfg = model.cfg
    if getattr(cfg, "attn_only", False) or not getattr(cfg, "d_mlp", None):
        raise ValueError(f"scale_toxic_keys: model {cfg.model_name!r} has no MLP blocks")
    chosen_layers = list(range(cfg.n_layers)) if config.layers is None else list(config.layers)
    bad = [layer for layer in chosen_layers if layer >= cfg.n_layers]
    if bad:
        raise ValueError(f"scale_toxic_keys: layers must be block indices in [0, {cfg.n_layers - 1}] "
                         f"for model {cfg.model_name!r} ({cfg.n_layers} layers), got {bad[0]}")
    n_neurons = cfg.d_mlp * len(chosen_layers)
    if config.k > n_neurons:
        raise ValueError(f"scale_toxic_keys: k={config.k} but the {len(chosen_layers)} layer(s) "
                         f"searched hold only {n_neurons} neurons (d_mlp={cfg.d_mlp})")
    top = top_toxic_value_vectors(model, probe, k=config.k, layers=chosen_layers)
    neurons = tuple((int(layer), int(i)) for layer, i in zip(top["layer"], top["index"]))

    edited = copy_model(model, device=device)
    params = dict(edited.named_parameters())
    by_layer: dict[int, list[int]] = {}
    for layer, i in neurons:
        by_layer.setdefault(layer, []).append(i)
    with torch.inference_mode(False), torch.no_grad():
        for layer, idx in by_layer.items():
            name = _key_name(edited, layer, config.gated_key)
            weight = params.get(name)
            if weight is None or tuple(weight.shape) != (cfg.d_model, cfg.d_mlp):
                shape = None if weight is None else tuple(weight.shape)
                raise ValueError(f"scale_toxic_keys: expected parameter {name!r} of shape "
                                 f"(d_model, d_mlp) = ({cfg.d_model}, {cfg.d_mlp}), got {shape}")
            cols = torch.tensor(idx, device=weight.device)
            weight[:, cols] = weight[:, cols] * config.factor
    changed = {_key_name(edited, layer, config.gated_key) for layer in by_layer}
    trainable = [n for n in params if n in changed]
    details = {"neurons": neurons, "cosines": tuple(float(c) for c in top["cosine"])}
    return EditResult(model=edited, method=config.name, trainable=trainable, losses=[],
                      config=config, seconds=time.perf_counter() - start, seed=seed, details=details)
