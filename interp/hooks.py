"""Hook-name helpers, early hook-name checks, and the one temporary-hooks context manager.

TransformerLens names every activation ``blocks.{layer}.<point>`` and every parameter
``blocks.{layer}.<module>.<parameter>``; build those names with the helpers here (the only place
that spells them) instead of f-strings scattered over the code, check them with
:func:`check_hook_names` before a long run, and attach hooks only through
:func:`temporary_hooks`, which removes exactly its own hooks on exit, error or not.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from transformer_lens import HookedTransformer

__all__ = [
    "HookFn",
    "attn_out",
    "attn_scores",
    "block_param",
    "check_hook_names",
    "layer_of",
    "mlp_out",
    "mlp_post",
    "mlp_w_out",
    "resid_mid",
    "resid_post",
    "resid_pre",
    "temporary_hooks",
]

#: A TransformerLens hook function: ``fn(activation, hook) -> activation or None``.
HookFn = Callable[..., Any]

_BLOCK = re.compile(r"^blocks\.(\d+)\.")


def _check_layer(layer: int) -> int:
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
        raise ValueError(f"layer must be a non-negative int, got {layer!r}")
    return layer


def resid_pre(layer: int) -> str:
    """Residual stream entering block ``layer``: ``"blocks.{layer}.hook_resid_pre"``, (batch, pos, d_model)."""
    return f"blocks.{_check_layer(layer)}.hook_resid_pre"


def resid_mid(layer: int) -> str:
    """Residual stream between attention and MLP of block ``layer`` (what enters the MLP), (batch, pos, d_model)."""
    return f"blocks.{_check_layer(layer)}.hook_resid_mid"


def resid_post(layer: int) -> str:
    """Residual stream leaving block ``layer`` (the block's hidden state), (batch, pos, d_model).

    Examples
    --------
    >>> resid_post(3)
    'blocks.3.hook_resid_post'
    """
    return f"blocks.{_check_layer(layer)}.hook_resid_post"


def mlp_post(layer: int) -> str:
    """MLP activations m_i that multiply the rows of ``W_out``: ``"blocks.{layer}.mlp.hook_post"``, (batch, pos, d_mlp)."""
    return f"blocks.{_check_layer(layer)}.mlp.hook_post"


def mlp_out(layer: int) -> str:
    """Output of block ``layer``'s MLP written to the residual stream, (batch, pos, d_model)."""
    return f"blocks.{_check_layer(layer)}.hook_mlp_out"


def attn_out(layer: int) -> str:
    """Output of block ``layer``'s attention written to the residual stream, (batch, pos, d_model)."""
    return f"blocks.{_check_layer(layer)}.hook_attn_out"


def attn_scores(layer: int) -> str:
    """Pre-softmax attention scores of block ``layer``, (batch, head, query_pos, key_pos).

    Examples
    --------
    >>> attn_scores(2)
    'blocks.2.attn.hook_attn_scores'
    """
    return f"blocks.{_check_layer(layer)}.attn.hook_attn_scores"


def block_param(layer: int, module: str, parameter: str) -> str:
    """TransformerLens parameter name ``"blocks.{layer}.{module}.{parameter}"`` (a state-dict key).

    Examples
    --------
    >>> block_param(1, "attn", "W_O")
    'blocks.1.attn.W_O'
    """
    for what, value in (("module", module), ("parameter", parameter)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{what} must be a non-empty str, got {value!r}")
    return f"blocks.{_check_layer(layer)}.{module}.{parameter}"


def mlp_w_out(layer: int) -> str:
    """Block ``layer``'s MLP output matrix, shape (d_mlp, d_model): row ``i`` is value vector ``v_i``.

    Examples
    --------
    >>> mlp_w_out(3)
    'blocks.3.mlp.W_out'
    """
    return block_param(layer, "mlp", "W_out")


def layer_of(name: str) -> int:
    """Block index of a hook name, e.g. ``layer_of("blocks.3.mlp.hook_post") == 3``.

    Raises
    ------
    ValueError
        The name has no ``blocks.{layer}.`` prefix (e.g. ``"hook_embed"``,
        ``"ln_final.hook_normalized"``).

    Examples
    --------
    >>> layer_of(mlp_post(3))
    3
    """
    match = _BLOCK.match(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"hook name {name!r} has no block index (expected 'blocks.<layer>.<point>')")
    return int(match.group(1))


def check_hook_names(model: HookedTransformer, names: Sequence[str]) -> None:
    """Raise ``KeyError`` for the first name that is not a hook point of ``model``.

    The message names the hook, the model, its number of layers and the three closest valid
    names (``difflib``), e.g. ``unknown hook 'blocks.9.hook_resid_post' for model 'organism'
    (2 layers); closest: [...]``.
    """
    if isinstance(names, str):
        names = [names]
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"hook names must be str, got {type(name).__name__}: {name!r}")
        if name not in model.hook_dict:
            near = difflib.get_close_matches(name, list(model.hook_dict), n=3)
            raise KeyError(
                f"unknown hook {name!r} for model {model.cfg.model_name!r} "
                f"({model.cfg.n_layers} layers); closest: {near}"
            )


@contextmanager
def temporary_hooks(
    model: HookedTransformer,
    fwd_hooks: Sequence[tuple[str, HookFn]],
    *,
    bwd_hooks: Sequence[tuple[str, HookFn]] = (),
) -> Iterator[HookedTransformer]:
    """Attach hooks for the duration of a ``with`` block; remove them on exit, even on error.

    Built on ``model.hooks()``, which removes only the hooks of its own context level: hooks
    the caller attached before (including permanent ones) stay. Never calls ``reset_hooks()``.

    Parameters
    ----------
    model : HookedTransformer
    fwd_hooks : sequence of (hook name, hook function)
        Names are checked first with :func:`check_hook_names`; the functions receive
        ``(activation, hook)`` and may return a replacement activation.
    bwd_hooks : sequence of (hook name, hook function), default=()
        Backward hooks, same format. They are removed at exit too, so run ``backward()``
        inside the block.

    Yields
    ------
    HookedTransformer
        ``model`` itself.

    Examples
    --------
    >>> def zero(act, hook):  # doctest: +SKIP
    ...     return act * 0
    >>> with temporary_hooks(model, [(mlp_out(0), zero)]):  # doctest: +SKIP
    ...     logits = model(tokens)
    """
    fwd, bwd = list(fwd_hooks), list(bwd_hooks)
    for pair in fwd + bwd:
        if not (isinstance(pair, tuple) and len(pair) == 2 and callable(pair[1])):
            raise TypeError(f"hooks must be (name, function) pairs, got {pair!r}")
    check_hook_names(model, [name for name, _ in fwd + bwd])
    with model.hooks(fwd_hooks=fwd, bwd_hooks=bwd):  # TransformerLens detaches these in `finally`
        yield model
