"""Save an (edited) ``HookedTransformer`` as a Hugging Face checkpoint folder.

:func:`save_hf` inverts TransformerLens's weight conversion by hand for the architectures
:func:`interp.models.load_model` reads from local folders (GPT-2, Llama -- SmolLM2 is one --
and Mistral), so that the folder it writes

* reloads with ``interp.load_model(folder)`` to the same logits, and
* loads with ``transformers.AutoModelForCausalLM.from_pretrained(folder)`` to the same logits
  (up to float rounding in HF's attention kernels),

with ``config.json``, ``model.safetensors`` (never pickle) and the model's tokenizer files.

The Hugging Face config starts from the config of the folder the model was loaded from (the
``source`` argument, or else the folder the model's tokenizer was loaded from), so every field
that TransformerLens does not keep (``max_position_embeddings`` beyond TransformerLens's cap,
token ids, ``generation_config.json``, ...) round-trips; without one it is rebuilt from
``model.cfg``. Either way it is checked: the config, mapped back by
:func:`interp.models.tl_config.tl_config`, must give ``model.cfg`` again.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import einops
import torch
from torch import Tensor
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    GenerationConfig,
    GPT2Config,
    LlamaConfig,
    MistralConfig,
    PretrainedConfig,
)

from interp.hooks import block_param
from interp.models.tl_config import tl_config

if TYPE_CHECKING:  # models/ is the only package that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

__all__ = ["SUPPORTED_ARCHITECTURES", "save_hf"]

#: ``model.cfg.original_architecture`` values :func:`save_hf` can write.
SUPPORTED_ARCHITECTURES: tuple[str, ...] = ("GPT2LMHeadModel", "LlamaForCausalLM", "MistralForCausalLM")

# HookedTransformerConfig fields that decide what the weights compute; a saved config must give
# the same values back through tl_config, or the saved model would not be the same function.
_CFG_FIELDS = (
    "original_architecture", "n_layers", "d_model", "n_heads", "d_head", "d_mlp", "d_vocab",
    "d_vocab_out", "n_ctx", "act_fn", "eps", "normalization_type", "final_rms", "gated_mlp",
    "positional_embedding_type", "n_key_value_heads", "rotary_dim", "rotary_base",
    "rotary_adjacent_pairs", "use_NTK_by_parts_rope", "NTK_original_ctx_len",
    "NTK_by_parts_low_freq_factor", "NTK_by_parts_high_freq_factor", "NTK_by_parts_factor",
    "use_local_attn", "window_size", "use_attn_scale", "attn_scale",
    "scale_attn_by_inverse_layer_idx", "parallel_attn_mlp", "attn_only", "use_qk_norm",
    "use_normalization_before_and_after", "post_embedding_ln", "attn_scores_soft_cap",
    "output_logits_soft_cap", "use_attention_sinks", "use_logn_attn", "use_dynamic_ntk_rope",
    "use_yarn_rope", "rotary_scaling_factor", "clip_qkv", "num_experts",
)


def save_hf(
    model: HookedTransformer,
    folder: str | os.PathLike[str],
    *,
    source: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `model` as a Hugging Face checkpoint folder (safetensors, config, tokenizer).

    Parameters
    ----------
    model : HookedTransformer
        An unprocessed model (no LayerNorm folding or centring, as
        :func:`interp.models.load_model` returns) of an architecture in
        :data:`SUPPORTED_ARCHITECTURES`, with ``model.tokenizer``. It is only read: the folder
        gets contiguous CPU copies of its weights, in its dtype.
    folder : str or path-like
        Where to write. Written to a temporary sibling first and renamed, so a crash never
        leaves a half-written checkpoint. It may exist only if empty, unless `overwrite`.
    source : str or path-like, optional
        Hugging Face folder the model was loaded from; its ``config.json`` (and
        ``generation_config.json``) are the starting point. Default: the folder the model's
        tokenizer was loaded from (``model.tokenizer.name_or_path``) when that holds a
        ``config.json`` that fits the model (otherwise, with a warning, the config is rebuilt
        from ``model.cfg``).
    overwrite : bool, default False
        Replace an existing non-empty `folder` (swapped in only once the new one is complete).

    Returns
    -------
    Path
        `folder`.

    Raises
    ------
    ValueError
        Unsupported architecture, no tokenizer, a non-zero bias the Hugging Face architecture
        does not have (e.g. ``unembed.b_U``, or any bias of Llama / Mistral), a parameter the
        conversion does not know, an explicit `source` whose config does not fit the model, or
        TransformerLens options Hugging Face cannot express (e.g. folded LayerNorms).
    FileExistsError
        `folder` exists and is not empty, and `overwrite` is False.
    FileNotFoundError
        `source` has no ``config.json``.

    Notes
    -----
    Tied embeddings stay tied only while ``W_U == W_E.T`` exactly; an edit that made them
    differ is saved untied (``tie_word_embeddings=False``, an extra ``lm_head.weight``), so
    the logits are still the edited model's. The tokenizer is saved as attached to the model:
    :func:`~interp.models.load_model` sets padding side ``"left"`` and falls back to
    ``eos_token`` as ``pad_token``, and those settings are saved with it.

    Examples
    --------
    >>> "LlamaForCausalLM" in SUPPORTED_ARCHITECTURES
    True
    >>> folder = save_hf(edited.model, "runs/dinm-organism")  # doctest: +SKIP
    >>> interp.load_model(folder)  # doctest: +SKIP
    """
    arch = model.cfg.original_architecture
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"save_hf cannot save model.cfg.original_architecture={arch!r} "
            f"(model {model.cfg.model_name!r}); supported: {list(SUPPORTED_ARCHITECTURES)}"
        )
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError(f"model {model.cfg.model_name!r} has no tokenizer; save_hf saves one with it")
    folder = Path(folder).expanduser()
    _check_target(folder, overwrite)
    params = _Params(model)
    with torch.no_grad():
        convert = _gpt2_state if arch == "GPT2LMHeadModel" else _llama_state
        state = convert(model.cfg, params)
    params.check_all_used()
    tied = torch.equal(state["lm_head.weight"], _embedding(state))
    config, generation = _hf_config(model, tied, source, n_positions=_n_positions(state))
    with torch.device("meta"):  # no random init: every tensor is assigned below
        hf_model = AutoModelForCausalLM.from_config(config, dtype=model.cfg.dtype)
    hf_model.load_state_dict(state, strict=True, assign=True)
    if tied:
        hf_model.tie_weights()
    if generation is not None:
        hf_model.generation_config = generation
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        hf_model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        _swap_in(tmp, folder, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


class _Params:
    """The model's parameters by name; remembers which ones the conversion used."""

    def __init__(self, model: HookedTransformer) -> None:
        self.name = model.cfg.model_name
        self.arch = model.cfg.original_architecture
        self.params = {name: p.detach() for name, p in model.named_parameters()}
        self.used: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self.params

    def take(self, name: str) -> Tensor:
        """The parameter, detached (still the model's storage: copy before writing)."""
        if name not in self.params:
            raise ValueError(f"{self.name}: expected parameter {name!r} for {self.arch}; not in the model")
        self.used.add(name)
        return self.params[name]

    def zero(self, name: str) -> None:
        """Check that a bias the Hugging Face architecture lacks is all zeros."""
        if name in self.params:
            self.used.add(name)
            if self.params[name].any():
                raise ValueError(
                    f"{self.name}: {name} is non-zero, but {self.arch} has no such bias, so the "
                    "edited model cannot be saved in this architecture (do not train this bias)"
                )

    def check_all_used(self) -> None:
        left = sorted(set(self.params) - self.used)
        if left:
            raise ValueError(f"{self.name}: parameters {left[:5]} have no place in {self.arch}")


def _block(layer: int, name: str) -> str:
    """``_block(2, "attn.W_Q") == "blocks.2.attn.W_Q"`` (names built by :mod:`interp.hooks`)."""
    module, parameter = name.split(".", 1)
    return block_param(layer, module, parameter)


def _fresh(t: Tensor) -> Tensor:
    """A contiguous CPU copy sharing no storage with `t` (inference_layout views included)."""
    return t.to("cpu", copy=True, memory_format=torch.contiguous_format)


def _embedding(state: dict[str, Tensor]) -> Tensor:
    key = "transformer.wte.weight" if "transformer.wte.weight" in state else "model.embed_tokens.weight"
    return state[key]


def _n_positions(state: dict[str, Tensor]) -> int | None:
    wpe = state.get("transformer.wpe.weight")
    return None if wpe is None else wpe.shape[0]


def _gpt2_state(cfg: Any, p: _Params) -> dict[str, Tensor]:
    """Inverse of ``convert_gpt2_weights``: TransformerLens names -> GPT2LMHeadModel names."""
    sd = {"transformer.wte.weight": p.take("embed.W_E"), "transformer.wpe.weight": p.take("pos_embed.W_pos")}
    for layer in range(cfg.n_layers):
        h = f"transformer.h.{layer}."
        b = functools.partial(_block, layer)
        qkv = [einops.rearrange(p.take(b(f"attn.W_{x}")), "i m h -> m (i h)") for x in "QKV"]
        sd |= {
            h + "ln_1.weight": p.take(b("ln1.w")),
            h + "ln_1.bias": p.take(b("ln1.b")),
            h + "attn.c_attn.weight": torch.cat(qkv, dim=1),
            h + "attn.c_attn.bias": torch.cat([p.take(b(f"attn.b_{x}")).reshape(-1) for x in "QKV"]),
            h + "attn.c_proj.weight": einops.rearrange(p.take(b("attn.W_O")), "i h m -> (i h) m"),
            h + "attn.c_proj.bias": p.take(b("attn.b_O")),
            h + "ln_2.weight": p.take(b("ln2.w")),
            h + "ln_2.bias": p.take(b("ln2.b")),
            h + "mlp.c_fc.weight": p.take(b("mlp.W_in")),  # Conv1D stores [in, out], as TL does
            h + "mlp.c_fc.bias": p.take(b("mlp.b_in")),
            h + "mlp.c_proj.weight": p.take(b("mlp.W_out")),
            h + "mlp.c_proj.bias": p.take(b("mlp.b_out")),
        }
    sd |= {"transformer.ln_f.weight": p.take("ln_final.w"), "transformer.ln_f.bias": p.take("ln_final.b"),
           "lm_head.weight": p.take("unembed.W_U").T}
    p.zero("unembed.b_U")
    return {k: _fresh(v) for k, v in sd.items()}


def _llama_state(cfg: Any, p: _Params) -> dict[str, Tensor]:
    """Inverse of ``convert_llama_weights`` / ``convert_mistral_weights`` (grouped K/V: ``_W_K``)."""
    sd = {"model.embed_tokens.weight": p.take("embed.W_E")}
    for layer in range(cfg.n_layers):
        m = f"model.layers.{layer}."
        b = functools.partial(_block, layer)
        kv = "_" if b("attn._W_K") in p else ""  # GroupedQueryAttention keeps K/V as _W_K/_W_V
        sd |= {
            m + "input_layernorm.weight": p.take(b("ln1.w")),
            m + "self_attn.q_proj.weight": einops.rearrange(p.take(b("attn.W_Q")), "n m h -> (n h) m"),
            m + "self_attn.k_proj.weight": einops.rearrange(p.take(b(f"attn.{kv}W_K")), "n m h -> (n h) m"),
            m + "self_attn.v_proj.weight": einops.rearrange(p.take(b(f"attn.{kv}W_V")), "n m h -> (n h) m"),
            m + "self_attn.o_proj.weight": einops.rearrange(p.take(b("attn.W_O")), "n h m -> m (n h)"),
            m + "post_attention_layernorm.weight": p.take(b("ln2.w")),
            m + "mlp.gate_proj.weight": p.take(b("mlp.W_gate")).T,
            m + "mlp.up_proj.weight": p.take(b("mlp.W_in")).T,
            m + "mlp.down_proj.weight": p.take(b("mlp.W_out")).T,
        }
        for bias in ("attn.b_Q", f"attn.{kv}b_K", f"attn.{kv}b_V", "attn.b_O", "mlp.b_in", "mlp.b_out"):
            p.zero(b(bias))
    sd |= {"model.norm.weight": p.take("ln_final.w"), "lm_head.weight": p.take("unembed.W_U").T}
    p.zero("unembed.b_U")
    return {k: _fresh(v) for k, v in sd.items()}


def _hf_config(
    model: HookedTransformer, tied: bool, source: str | os.PathLike[str] | None, *, n_positions: int | None
) -> tuple[PretrainedConfig, GenerationConfig | None]:
    """The Hugging Face config (and generation config) to save, checked against ``model.cfg``."""
    folder, explicit = _source_folder(model, source)
    if folder is not None:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        _set_saved_fields(config, model, tied, n_positions)
        bad = _mismatches(config, model)
        if not bad:
            generation = None
            if (folder / "generation_config.json").is_file():
                generation = GenerationConfig.from_pretrained(folder, local_files_only=True)
            return config, generation
        message = f"{folder}/config.json does not fit model {model.cfg.model_name!r}: {bad}"
        if explicit:
            raise ValueError(message)
        warnings.warn(f"{message}; rebuilding the config from model.cfg", stacklevel=3)
    config = _config_from_tl(model, tied, n_positions)
    bad = _mismatches(config, model)
    if bad:
        raise ValueError(
            f"model {model.cfg.model_name!r} uses TransformerLens options that "
            f"{model.cfg.original_architecture} cannot express (field: saved vs model): {bad}"
        )
    return config, None


def _source_folder(
    model: HookedTransformer, source: str | os.PathLike[str] | None
) -> tuple[Path | None, bool]:
    """The folder to take the config from, and whether the caller named it."""
    if source is not None:
        folder = Path(source).expanduser()
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"source {str(folder)!r} has no config.json")
        return folder, True
    name = getattr(model.tokenizer, "name_or_path", None)
    if name and (Path(name) / "config.json").is_file():
        return Path(name), False
    return None, False


def _set_saved_fields(
    config: PretrainedConfig, model: HookedTransformer, tied: bool, n_positions: int | None
) -> None:
    """Fields the saved weights decide, whatever the source config says."""
    config.architectures = [model.cfg.original_architecture]
    config.tie_word_embeddings = tied
    config.dtype = model.cfg.dtype
    if n_positions is not None:  # GPT-2's position table is cut to TransformerLens's n_ctx
        config.n_positions = n_positions


def _config_from_tl(model: HookedTransformer, tied: bool, n_positions: int | None) -> PretrainedConfig:
    """A Hugging Face config built from ``model.cfg`` and the tokenizer's special token ids."""
    c, tok = model.cfg, model.tokenizer
    ids = {f"{t}_token_id": getattr(tok, f"{t}_token_id") for t in ("bos", "eos", "pad")}
    if c.original_architecture == "GPT2LMHeadModel":
        config: PretrainedConfig = GPT2Config(
            vocab_size=c.d_vocab, n_positions=n_positions, n_embd=c.d_model, n_layer=c.n_layers,
            n_head=c.n_heads, n_inner=c.d_mlp, activation_function=c.act_fn, layer_norm_epsilon=c.eps,
            scale_attn_weights=c.use_attn_scale, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            scale_attn_by_inverse_layer_idx=c.scale_attn_by_inverse_layer_idx, **ids,
        )
    else:
        rope: dict[str, Any] = {"rope_type": "default", "rope_theta": c.rotary_base}
        if c.use_NTK_by_parts_rope:
            rope |= {"rope_type": "llama3", "factor": c.NTK_by_parts_factor,
                     "low_freq_factor": c.NTK_by_parts_low_freq_factor,
                     "high_freq_factor": c.NTK_by_parts_high_freq_factor,
                     "original_max_position_embeddings": c.NTK_original_ctx_len}
        common = dict(
            vocab_size=c.d_vocab, hidden_size=c.d_model, intermediate_size=c.d_mlp,
            num_hidden_layers=c.n_layers, num_attention_heads=c.n_heads,
            num_key_value_heads=c.n_key_value_heads or c.n_heads, head_dim=c.d_head,
            hidden_act=c.act_fn, max_position_embeddings=c.n_ctx, rms_norm_eps=c.eps,
            rope_parameters=rope, **ids,
        )
        if c.original_architecture == "MistralForCausalLM":
            config = MistralConfig(**common, sliding_window=c.window_size if c.use_local_attn else None)
        else:
            config = LlamaConfig(**common)
    _set_saved_fields(config, model, tied, None)
    return config


def _mismatches(config: PretrainedConfig, model: HookedTransformer) -> dict[str, tuple[Any, Any]]:
    """Fields of ``tl_config(config)`` that differ from ``model.cfg``: name -> (saved, model)."""
    try:
        mapped = tl_config(config, model_name=model.cfg.model_name, device="cpu", dtype=model.cfg.dtype)
    except (ValueError, AttributeError, TypeError, AssertionError) as e:
        return {"config": (f"{type(e).__name__}: {e}", None)}
    out = {}
    for name in _CFG_FIELDS:
        saved, ours = getattr(mapped, name, None), getattr(model.cfg, name, None)
        if saved != ours:
            out[name] = (saved, ours)
    return out


def _check_target(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} exists and is not empty; pass overwrite=True to replace it")


def _swap_in(tmp: Path, folder: Path, overwrite: bool) -> None:
    """Rename the finished `tmp` to `folder`, replacing an existing one only at the last step."""
    _check_target(folder, overwrite)
    if not folder.exists():
        tmp.rename(folder)
        return
    old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
    folder.rename(old)
    try:
        tmp.rename(folder)
    except BaseException:
        old.rename(folder)
        raise
    shutil.rmtree(old, ignore_errors=True)
