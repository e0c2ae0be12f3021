"""Streaming activation collection: the ONE place that runs a model over many texts with hooks.

* :mod:`interp.activations.stream` -- :func:`collect_activations` (token ids in, one reduced
  float32 CPU tensor per hook out; no activation cache, the forward pass stops after the deepest
  requested block) and :func:`collect_from_texts` (tokenise, then collect);
* :mod:`interp.activations.reducers` -- what is kept of each batch: :class:`MeanOverPositions`,
  :class:`LastToken`, :class:`PositionSelect`, :class:`AllPositions` (one row per text) and
  :class:`RunningSum`, :class:`MeanOverTokens`, :class:`MeanOverTexts` (flat memory);
  :class:`TokenRows` (every selected token as a row, for SAE training);
* :mod:`interp.activations.chat_tokens` -- :func:`tokenize_chat`: chat sequences with the masks
  of their response tokens (:class:`ChatTokens`).

Examples
--------
>>> from interp.activations import collect_activations, MeanOverPositions
>>> acts = collect_activations(model, toks, hook_names=["blocks.0.hook_resid_post"],
...                            reducer=MeanOverPositions(), progress=False)  # doctest: +SKIP
"""

from interp.activations.chat_tokens import ChatTokens, tokenize_chat
from interp.activations.reducers import (
    REDUCERS,
    AllPositions,
    LastToken,
    MeanOverPositions,
    MeanOverTexts,
    MeanOverTokens,
    PositionSelect,
    Reducer,
    ReducerSpec,
    RunningSum,
    TokenRows,
)
from interp.activations.shards import ActivationShards
from interp.activations.stream import collect_activations, collect_from_texts, selected_positions

__all__ = [
    "ActivationShards",
    "AllPositions",
    "ChatTokens",
    "LastToken",
    "MeanOverPositions",
    "MeanOverTexts",
    "MeanOverTokens",
    "PositionSelect",
    "REDUCERS",
    "Reducer",
    "ReducerSpec",
    "RunningSum",
    "TokenRows",
    "collect_activations",
    "collect_from_texts",
    "selected_positions",
    "tokenize_chat",
]
