"""Per-layer probe readout: how far along the toxic direction each layer's residual stream points.

``readout[l] = w . mean(resid_post_l)``, the mean over prompt tokens (first token left out by
default) of the residual stream after block ``l``, projected on the probe's unit direction
``w``. The probe is trained at the last layer (Lee et al.); earlier layers' readouts show where
along the depth an edit removes (or never touches) the toxic component.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from interp.activations import collect_activations
from interp.hooks import resid_post
from interp.mechanisms.inputs import check_pair, prompt_texts

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["ReadoutShift", "probe_readout", "readout_shift"]


def probe_readout(
    model: HookedTransformer,
    probe: Any,
    prompts: Sequence[Any],
    *,
    keep_first_position: bool = False,
    batch_size: int = 16,
    max_length: int | None = None,
) -> np.ndarray:
    """``w . mean(resid_post_l)`` for every layer ``l``: an array of shape (n_layers,).

    Parameters
    ----------
    model : HookedTransformer
    probe : LinearProbe or Tensor of shape (d_model,)
    prompts : sequence of str (or objects with ``.text``)
        Wrapped with :func:`interp.chat_prompt`.
    """
    from interp.models import tokenize

    toks = tokenize(model, prompt_texts(model, prompts, what="probe_readout"), max_length=max_length)
    return _readout(model, probe, toks, keep_first_position=keep_first_position, batch_size=batch_size)


def _readout(model: HookedTransformer, probe: Any, toks: Any, *, keep_first_position: bool,
             batch_size: int) -> np.ndarray:
    """``w . mean(resid_post_l)`` over the selected tokens of `toks` (a Tokenized), per layer."""
    import probes

    w = probes.toxic_direction(model, probe).double()
    hooks = [resid_post(layer) for layer in range(model.cfg.n_layers)]
    means = collect_activations(model, toks, hook_names=hooks, reducer="mean_tokens",
                                keep_first_position=keep_first_position, batch_size=batch_size, progress=False)
    return np.array([float(means[h].double() @ w) for h in hooks])


@dataclass(frozen=True)
class ReadoutShift:
    """Per-layer readout before and after an edit (arrays of shape (n_layers,))."""

    before: np.ndarray
    after: np.ndarray
    n_prompts: int

    @property
    def change(self) -> np.ndarray:
        return self.after - self.before

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame({"layer": np.arange(len(self.before)), "before": self.before, "after": self.after,
                             "change": self.change})


def readout_shift(
    base: HookedTransformer,
    edited: HookedTransformer,
    probe: Any,
    prompts: Sequence[Any],
    *,
    keep_first_position: bool = False,
    batch_size: int = 16,
    max_length: int | None = None,
) -> ReadoutShift:
    """:func:`probe_readout` of both models on the same token ids (`probe` trained on `base`)."""
    from interp.models import tokenize

    check_pair(base, edited, what="readout_shift")
    texts = prompt_texts(base, prompts, what="readout_shift")
    toks = tokenize(base, texts, max_length=max_length)
    kw = dict(keep_first_position=keep_first_position, batch_size=batch_size)
    return ReadoutShift(before=_readout(base, probe, toks, **kw), after=_readout(edited, probe, toks, **kw),
                        n_prompts=len(texts))
