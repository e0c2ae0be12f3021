"""detox-interp: what does a detoxification method change inside a language model?

Public names are imported lazily so that ``import interp`` stays fast (TransformerLens and
sae-lens take seconds to import); ``interp.load_model`` etc. resolve on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # models and tokenisation
    "load_model": "interp.models",
    "chat_prompt": "interp.models",
    "default_device": "interp.checks",
    # data
    "SafetyRecord": "interp.data",
    "SafetyDataset": "interp.data",
    "load_safeedit": "interp.data",
    "load_dataset": "interp.data",
    "jailbreak_templates": "interp.data",
    "load_harmful_prompts": "interp.data",
    "HarmfulPrompt": "interp.data",
    "real_prompt_sets": "interp.data",
    # activations, location
    "collect_activations": "interp.activations",
    "locate_toxic_layer": "interp.locate",
    "locate_over": "interp.locate",
    "Localization": "interp.locate",
    "Region": "interp.locate",
    # evaluation
    "generate": "interp.evaluate",
    "default_judge": "interp.evaluate",
    "Judge": "interp.evaluate",
    "Verdicts": "interp.evaluate",
    "Rate": "interp.evaluate",
    "judge_report": "interp.evaluate",
    "unsafe_rate": "interp.evaluate",
    "evaluate_safety": "interp.evaluate",
    "refusal_rate": "interp.evaluate",
    "over_refusal": "interp.evaluate",
    "SafetyScores": "interp.evaluate",
    "judge_agreement": "interp.evaluate",
    "real_judge": "interp.evaluate",
    "behaviour_row": "interp.evaluate",
    "build_safeedit": "interp.evaluate",
    "inference_layout": "interp.layout",
    # edits, mechanisms, the comparison
    "EditResult": "interp.edits",
    "flow_shift": "interp.mechanisms",
    "region_flow": "interp.mechanisms",
    "residual_shift": "interp.mechanisms",
    "weight_diff": "interp.mechanisms",
    "harmful_embedding_drift": "interp.mechanisms",
    "compare_mechanisms": "interp.compare",
    "MechanismComparison": "interp.compare",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in {"checks", "data", "models", "hooks", "activations", "locate", "evaluate", "organism", "layout",
                "kv_cache", "decoding", "edits", "steering", "mechanisms", "compare",
                "intervals", "report"}:
        return importlib.import_module(f"interp.{name}")
    raise AttributeError(f"module 'interp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
