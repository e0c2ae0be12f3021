"""What every edit method returns: :class:`EditResult` (the new model and how it was made)."""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

    from interp.locate import Region

__all__ = ["EditResult"]


@dataclass(frozen=True)
class EditResult:
    """The edited model (a new one; the input model is never changed) and how it was made.

    Attributes
    ----------
    model : HookedTransformer
        The edited copy, on the device the edit ran on.
    method : str
        Registry name of the method, e.g. ``"sft"`` or ``"dpo"``.
    trainable : list of str
        Names of the parameters the edit trained (``model.named_parameters()`` order); every
        other parameter of ``model`` is bit-identical to the input model's.
    losses : list of float
        The training loss at each optimizer step (``losses[i]`` is step ``i``, 0-based).
    config : dataclass
        The method's frozen config (``SFTConfig``, ``DPOConfig``, ...).
    seconds : float
        Wall time of the whole edit (copy, tokenisation, training).
    seed : int, optional
        The seed the edit ran with.
    region : Region, optional
        The edited region for methods that edit one (DINM); None otherwise.
    details : dict
        Method-specific facts, e.g. DINM's ``"localization"`` (the
        :class:`~interp.locate.Localization` that chose the layer).

    Examples
    --------
    >>> result = interp.edits.sft(model, dataset, steps=20)  # doctest: +SKIP
    >>> result.save("runs/sft")                               # doctest: +SKIP
    >>> interp.load_model("runs/sft")                          # doctest: +SKIP
    """

    model: HookedTransformer
    method: str
    trainable: list[str]
    losses: list[float]
    config: Any
    seconds: float
    seed: int | None = None
    region: Region | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Number of optimizer steps taken (``len(losses)``)."""
        return len(self.losses)

    def config_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict (tuples become lists)."""
        if hasattr(self.config, "to_dict"):
            return self.config.to_dict()
        if is_dataclass(self.config):
            return asdict(self.config)
        return dict(self.config) if isinstance(self.config, dict) else {"repr": repr(self.config)}

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, JSON-ready.

        Returns
        -------
        dict
            ``method``, ``trainable``, ``losses``, ``config`` (dict), ``seconds``, ``seed``,
            ``region`` (str or None), ``details``, ``model_name`` (``model.cfg.model_name``) and
            ``n_trained`` (number of trained scalars).
        """
        cfg = getattr(self.model, "cfg", None)
        params = dict(self.model.named_parameters())
        return {
            "method": self.method,
            "model_name": getattr(cfg, "model_name", None),
            "trainable": list(self.trainable),
            "n_trained": int(sum(params[n].numel() for n in self.trainable if n in params)),
            "losses": [float(x) for x in self.losses],
            "config": self.config_dict(),
            "seconds": float(self.seconds),
            "seed": self.seed,
            "region": None if self.region is None else getattr(self.region, "tl_name", str(self.region)),
            "details": {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in self.details.items()},
        }

    def save(self, folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the edited model as a Hugging Face folder plus ``edit.json`` (:meth:`to_dict`).

        ``interp.load_model(folder)`` reloads it; for GPT-2 / Llama / Mistral architectures
        ``transformers.AutoModelForCausalLM.from_pretrained(folder)`` loads it too, with the
        TransformerLens model's logits (see :func:`interp.edits.save.save_hf`).

        Parameters
        ----------
        folder : str or path-like
            Must not exist or be empty, unless `overwrite`.
        overwrite : bool, default False

        Returns
        -------
        pathlib.Path
            The folder.
        """
        from interp.edits.save import save_hf  # transformers' config classes load on demand

        path = save_hf(self.model, folder, overwrite=overwrite)
        (path / "edit.json").write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    def _summary(self) -> str:
        first = f"{self.losses[0]:.4g}" if self.losses else "-"
        last = f"{self.losses[-1]:.4g}" if self.losses else "-"
        shown = ", ".join(self.trainable[:3]) + (", ..." if len(self.trainable) > 3 else "")
        return (f"method={self.method!r}, steps={self.steps}, loss {first} -> {last}, "
                f"trainable=[{shown}] ({len(self.trainable)} tensors), seconds={self.seconds:.1f}")

    def __repr__(self) -> str:
        return f"EditResult({self._summary()})"

    def _repr_html_(self) -> str:
        finite = [x for x in self.losses if math.isfinite(x)]
        spark = ""
        if len(finite) >= 2:
            lo, hi = min(finite), max(finite)
            span = (hi - lo) or 1.0
            pts = " ".join(f"{100 * i / (len(finite) - 1):.1f},{20 - 18 * (x - lo) / span:.1f}"
                           for i, x in enumerate(finite))
            spark = (f'<svg width="100" height="22"><polyline fill="none" stroke="currentColor" '
                     f'points="{pts}"/></svg>')
        return f"<div><code>EditResult</code> {html.escape(self._summary())} {spark}</div>"
