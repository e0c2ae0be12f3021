"""How an edit moves SAE features: the same SAE read on the base and on the edited model.

The SAE was trained on the base model; on the edited model it still reads the same hook, and
the reconstruction's explained variance on each model says how far its dictionary still fits
(a large drop means the edit moved activations off the SAE's dictionary, and the shifts below
should be read with that in mind).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformer_lens import HookedTransformer

__all__ = ["FeatureShift", "feature_shift"]


@dataclass
class FeatureShift:
    """Per-feature mean activation on the same prompts, base vs edited model.

    ``table`` (pandas): ``feature``, ``base_mean``, ``edited_mean``, ``shift`` (edited - base),
    ``base_fires`` / ``edited_fires`` (% of tokens where it fires), sorted by ``|shift|``
    (largest first) unless features were given. ``explained_variance``: the SAE's on each
    model's activations, ``{"base": ..., "edited": ...}``.
    """

    table: Any
    explained_variance: dict[str, float]
    hook: str
    n_prompts: int
    positions: str

    def figure(self, n: int = 20) -> Any:
        """plotly bar chart of the `n` first features' shifts."""
        import plotly.graph_objects as go

        top = self.table.iloc[:n]
        fig = go.Figure(go.Bar(x=[f"#{int(f)}" for f in top["feature"]], y=top["shift"]))
        fig.update_layout(title=f"SAE feature shift at {self.hook} ({self.n_prompts} prompts, {self.positions} "
                          f"tokens; SAE explained variance base {self.explained_variance['base']:.2f}, "
                          f"edited {self.explained_variance['edited']:.2f})",
                          xaxis_title="SAE feature", yaxis_title="edited - base mean activation")
        return fig


def feature_shift(
    sae: Any,
    base: HookedTransformer,
    edited: HookedTransformer,
    prompts: Sequence[Any],
    *,
    features: Sequence[int] | None = None,
    positions: str = "last",
    hook: str | None = None,
    batch_size: int = 16,
    progress: bool = False,
) -> FeatureShift:
    """Mean activation of each SAE feature on `prompts`, on `base` and on `edited`.

    Parameters
    ----------
    sae : sae_lens SAE
        Trained on `base` at `hook` (default ``sae.cfg.metadata.hook_name``).
    base, edited : HookedTransformer
        Same architecture and tokenizer (e.g. ``edited = interp.edits.dinm(base, ...).model``).
    prompts : sequence of str (or objects with ``.text``)
        User prompts, wrapped with :func:`interp.chat_prompt`.
    features : sequence of int, optional
        Report these features in this order (e.g. ``ranking.top(10)`` from
        :func:`refusal_features`); default every feature, sorted by ``|shift|``.
    positions : {"last", "all"}, default="last"
        The last prompt token (where the answer starts) or every prompt token but the first.
    """
    import pandas as pd

    from interp.models import chat_prompt, tokenize
    from interp.steering.features import encode_rows, per_text_mean, sae_for_hook, token_rows
    from interp.steering.sae import sae_stats

    if positions not in ("last", "all"):
        raise ValueError(f"positions must be 'last' or 'all', got {positions!r}")
    if base.cfg.d_model != edited.cfg.d_model or base.cfg.n_layers != edited.cfg.n_layers:
        raise ValueError("base and edited must have the same architecture (d_model, n_layers)")
    hook = sae_for_hook(base, sae, hook)
    texts = [chat_prompt(base, getattr(p, "text", p)) for p in prompts]
    if not texts:
        raise ValueError("feature_shift needs at least one prompt")
    toks = tokenize(base, texts)
    mask = toks.attention_mask.bool()
    if positions == "last":
        mask = torch.zeros_like(mask)
        mask[:, -1] = True  # left padding: the last column holds every prompt's last token
    else:
        first = mask.float().argmax(dim=1)
        mask[torch.arange(len(mask)), first] = False
    means, fires, ev = {}, {}, {}
    for label, model in (("base", base), ("edited", edited)):
        rows, text_index, _ = token_rows(model, toks, mask, hook=hook, batch_size=batch_size, progress=progress)
        feats = encode_rows(sae, rows)
        means[label] = per_text_mean(feats, text_index, len(texts)).mean(0)
        fires[label] = 100 * per_text_mean((feats > 0).float(), text_index, len(texts)).mean(0)
        ev[label] = float(sae_stats(sae, rows)["explained_variance"]) if len(rows) > 1 else float("nan")
    table = pd.DataFrame({"feature": range(sae.cfg.d_sae), "base_mean": means["base"].numpy(),
                          "edited_mean": means["edited"].numpy(), "base_fires": fires["base"].numpy(),
                          "edited_fires": fires["edited"].numpy()})
    table["shift"] = table["edited_mean"] - table["base_mean"]
    if features is not None:
        table = table.set_index("feature").loc[[int(f) for f in features]].reset_index()
    else:
        table = table.reindex(table["shift"].abs().sort_values(ascending=False, kind="stable").index)
        table = table.reset_index(drop=True)
    return FeatureShift(table=table, explained_variance=ev, hook=hook, n_prompts=len(texts), positions=positions)

