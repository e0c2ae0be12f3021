"""Map a Hugging Face config (gpt2 / llama / mistral) to a TransformerLens ``HookedTransformerConfig``.

Used by :mod:`interp.models.load` for local Hugging Face folders. Every weight is overwritten
by the checkpoint (``init_weights=False``), ``default_prepend_bos`` is ``False`` and
``n_ctx`` is capped at :data:`MAX_N_CTX`.
"""

from __future__ import annotations

from typing import Any

import torch
from transformer_lens import HookedTransformerConfig

__all__ = ["MAX_N_CTX", "tl_config"]

#: TransformerLens allocates an ``n_ctx x n_ctx`` causal mask per layer, so long contexts are
#: capped (as TransformerLens does for its official Llama / Mistral configs).
MAX_N_CTX = 2048


def tl_config(hf_cfg: Any, *, model_name: str, device: str, dtype: torch.dtype,
              n_devices: int = 1) -> HookedTransformerConfig:
    """Map a Hugging Face config (gpt2 / llama / mistral) to a ``HookedTransformerConfig``.

    Parameters
    ----------
    hf_cfg : transformers.PretrainedConfig
        The checkpoint's config; ``model_type`` ``gpt2``, ``llama`` or ``mistral``.
    model_name : str
        Stored as ``cfg.model_name`` and used in error messages.
    device : str
    dtype : torch.dtype
    n_devices : int, default=1
        GPUs the blocks are split over (TransformerLens's ``n_devices``).

    Raises
    ------
    ValueError
        Attention or MLP biases on llama / mistral, or a rope type other than default / llama3.
    """
    common: dict[str, Any] = dict(
        model_name=model_name,
        device=device,
        n_devices=n_devices,
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

