"""DINM (Wang et al., ACL 2024): detoxify with ONE record by tuning the toxic layer's MLP output.

For one SafeEdit record: locate its toxic layer (:func:`interp.locate.locate_toxic_layer`, on the
input model), then train only that layer's ``W_out`` (TransformerLens ``blocks.{l}.mlp.W_out``;
Hugging Face ``down_proj`` / ``c_proj``) for a few steps on::

    loss = c_edit * NLL(safe generation | adversarial prompt) + KL(edited || original)

with the NLL the mean over the safe answer's tokens (and the end-of-turn token) after the chat
prompt, and the KL the mean over the answer tokens of the record's ``knowledge constrain``
question/answer of ``sum_v p_edited(v) (log p_edited(v) - log p_original(v))``: the edit must
not change what the model says on an unrelated fact.

Where this differs from EasyEdit's code (zjunlp/EasyEdit ``easyeditor/models/dinm``, see
DESIGN.md "What EasyEdit's own DINM does"):

* the layer is located for THIS record (EasyEdit's script locates the first record's layer and
  reuses it);
* the KL term carries its gradient (``kl_grad=True``); EasyEdit computes it under ``no_grad``,
  so only the edit loss trains and ``c_edit`` (their ``kl_factor``) is cancelled by Adam.
  ``kl_grad=False`` reproduces that;
* prompts too long for the context lose their start with a warning instead of crashing;
* only ``W_out`` trains (EasyEdit's GPT-2 template also edits ``c_proj.bias``).

Both sequences (the edit and the constraint) run as one left-padded batch of two. Nothing
before layer ``l``'s MLP output depends on ``W_out``, so :func:`dinm_batch` caches that layer's
``hook_resid_mid`` and ``mlp.hook_post`` once and each step runs only ``post @ W_out + b_out``,
the blocks after ``l`` and the unembedding of the answer positions: the same loss and gradient as
a full forward (tested), at a cost that falls with depth (layer 29 of SmolLM2: 0.1 s per step
instead of 3 s on 2 cores).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor

from interp.checks import record_label, record_text
from interp.edits.batches import answer_logits, answer_tokens
from interp.edits.config import EditConfig
from interp.hooks import mlp_post, resid_mid
from interp.edits.core import copy_model, train
from interp.edits.result import EditResult
from interp.locate import LOCATE_METHODS, Region, locate_toxic_layer

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

    from interp.locate import Localization

__all__ = ["DINMBatch", "DINMConfig", "dinm", "dinm_batch", "dinm_loss"]

_FIELDS = {"adversarial_prompt": ("adversarial_prompt",), "safe_generation": ("safe_generation",),
           "knowledge constrain prompt": ("knowledge_constrain", "prompt"),
           "knowledge constrain answer": ("knowledge_constrain", "answer")}


@dataclass(frozen=True, kw_only=True)
class DINMConfig(EditConfig):
    """Options of :func:`dinm`.

    Parameters
    ----------
    steps : int, default=10
        Optimizer steps (the paper's 10).
    lr : float, default=5e-4
        AdamW learning rate (the paper's 5e-4).
    c_edit : float, default=1.0
        Weight of the edit NLL against the KL term (EasyEdit's ``kl_factor`` is 0.1). Chosen by
        measurement: on 8 SmolLM2 records (docs/EDITS.md, steps x lr x c_edit) c_edit 1.0 gave
        +28.1 points of generalization refusal [10.7, 45.6] at 10 steps, lr 5e-4, KQA 60 -> 62.5;
        c_edit 0.1 gave +12.5 [-3.3, 28.3].
    kl_grad : bool, default=True
        Backpropagate the KL term. ``False`` computes it without gradient, as EasyEdit's code
        does (then only the edit loss trains).
    locate : str, default="response_mean"
        Locator method, one of :data:`interp.locate.LOCATE_METHODS`.
    layer : int, optional
        Edit this layer instead of locating one.
    max_length : int, optional
        Longest sequence in tokens; default the model's context. Longer prompts lose their
        start (with a warning).
    optimizer : {"adamw", "sgd"}, default="adamw"
    weight_decay : float, default=0.0
    grad_clip : float, optional
        Clip the gradient norm of ``W_out`` (off by default, as in the paper).

    Examples
    --------
    >>> DINMConfig(locate="last_token").steps
    10
    >>> DINMConfig(locate="deepest")
    Traceback (most recent call last):
    ...
    ValueError: DINMConfig.locate must be one of ['response_mean', 'last_token', 'easyedit', 'response_relative', 'response_cosine'], got 'deepest'
    """

    name: ClassVar[str] = "dinm"

    steps: int = 10
    lr: float = 5e-4
    c_edit: float = 1.0
    kl_grad: bool = True
    locate: str = "response_mean"
    layer: int | None = None
    max_length: int | None = None
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    grad_clip: float | None = None

    def validate(self) -> None:
        super().validate()
        self._positive_int("steps")
        self._positive_float("lr")
        self._positive_float("c_edit")
        if not isinstance(self.kl_grad, bool):
            self._fail("kl_grad", "True or False", TypeError)
        self._choice("locate", LOCATE_METHODS)
        self._positive_int("layer", allow_none=True, minimum=0)
        self._positive_int("max_length", allow_none=True, minimum=2)
        self._choice("optimizer", ("adamw", "sgd"))
        self._positive_float("weight_decay", allow_zero=True)
        self._positive_float("grad_clip", allow_none=True)


@dataclass(frozen=True)
class DINMBatch:
    """The edit sequence (row 0) and the constraint sequence (row 1), left-padded together.

    Attributes
    ----------
    tokens, attention_mask : Tensor of shape (2, pos)
    edit_mask : BoolTensor of shape (2, pos)
        The safe answer's tokens and end-of-turn token (row 0 only).
    kl_mask : BoolTensor of shape (2, pos)
        The constraint answer's tokens and end-of-turn token (row 1 only).
    ref_logprobs : Tensor of shape (n_kl, d_vocab)
        The original model's log-probabilities (float32) predicting each ``kl_mask`` token, in
        ``kl_mask[:, 1:]`` order.
    layer : int, optional
        The edited layer when the prefix is cached (then ``resid_mid`` and ``mlp_post`` are set).
    resid_mid : Tensor of shape (2, pos, d_model), optional
        ``blocks.{layer}.hook_resid_mid`` of the original model.
    mlp_post : Tensor of shape (2, pos, d_mlp), optional
        ``blocks.{layer}.mlp.hook_post`` of the original model.
    """

    tokens: Int[Tensor, "2 pos"]
    attention_mask: Int[Tensor, "2 pos"]
    edit_mask: Bool[Tensor, "2 pos"]
    kl_mask: Bool[Tensor, "2 pos"]
    ref_logprobs: Float[Tensor, "n_kl d_vocab"]
    layer: int | None = None
    resid_mid: Float[Tensor, "2 pos d_model"] | None = None
    mlp_post: Float[Tensor, "2 pos d_mlp"] | None = None

    def to(self, device: str | torch.device) -> DINMBatch:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return DINMBatch(*(t.to(device) for t in (self.tokens, self.attention_mask, self.edit_mask,
                                                  self.kl_mask, self.ref_logprobs)),
                         layer=self.layer, resid_mid=move(self.resid_mid), mlp_post=move(self.mlp_post))


def _prefix_cacheable(model: HookedTransformer) -> bool:
    """True when block outputs are ``resid_mid + MLP(...)`` with nothing after ``W_out`` but the
    residual add (no parallel attention/MLP, no post-MLP normalisation) and the logits are the
    unembedded final norm (no soft cap)."""
    cfg = model.cfg
    return not (getattr(cfg, "parallel_attn_mlp", False) or getattr(cfg, "use_normalization_before_and_after", False)
                or getattr(cfg, "attn_only", False) or (getattr(cfg, "output_logits_soft_cap", -1.0) or -1.0) > 0)


def _record_fields(record: Any) -> dict[str, str]:
    if isinstance(record, (list, tuple)) or (hasattr(record, "__len__") and hasattr(record, "records")):
        raise TypeError(f"dinm edits with ONE record, got a {type(record).__name__} of {len(record)}; "
                        "loop over the records (one edit each) or use sft() for a dataset")
    out = {}
    for name, path in _FIELDS.items():
        text = record_text(record, path)
        if text is None:
            raise ValueError(f"dinm: {record_label(record, None)} has no non-blank field {name!r} "
                             f"(needed: {', '.join(map(repr, _FIELDS))})")
        out[name] = text
    return out


def _logprobs(model: HookedTransformer, tokens: Tensor, attention_mask: Tensor) -> Float[Tensor, "b pos vocab"]:
    return F.log_softmax(model(tokens, attention_mask=attention_mask).float(), dim=-1)


@torch.no_grad()
def dinm_batch(model: HookedTransformer, record: Any, *, max_length: int | None = None,
               layer: int | None = None) -> DINMBatch:
    """Tokenise a record's edit and constraint sequences and score the constraint with `model`.

    Parameters
    ----------
    model : HookedTransformer
        The original model (only read): its log-probabilities are the KL's reference.
    record : SafetyRecord or dict
        Needs ``adversarial_prompt``, ``safe_generation`` and ``knowledge_constrain.{prompt,
        answer}``.
    max_length : int, optional
        See :class:`DINMConfig`.
    layer : int, optional
        Cache this layer's ``hook_resid_mid`` and ``mlp.hook_post`` so :func:`dinm_loss` restarts
        from them (ignored for architectures where that is not exact, see ``_prefix_cacheable``).
    """
    f = _record_fields(record)
    both = answer_tokens(model, [f["adversarial_prompt"], f["knowledge constrain prompt"]],
                         [f["safe_generation"], f["knowledge constrain answer"]], max_length=max_length)
    row = torch.arange(2)[:, None]
    edit_mask, kl_mask = both.loss_mask & (row == 0), both.loss_mask & (row == 1)
    device = next(model.parameters()).device
    tokens, mask = both.tokens.to(device), both.attention_mask.to(device)
    if layer is None or not _prefix_cacheable(model):
        ref = _logprobs(model, tokens, mask)[:, :-1][kl_mask[:, 1:].to(device)]
        return DINMBatch(tokens=both.tokens, attention_mask=both.attention_mask, edit_mask=edit_mask,
                         kl_mask=kl_mask, ref_logprobs=ref.cpu())
    names = (resid_mid(layer), mlp_post(layer))
    final, cache = model.run_with_cache(tokens, attention_mask=mask, names_filter=lambda n: n in names,
                                        stop_at_layer=model.cfg.n_layers)
    ref = _unembed_logprobs(model, final, kl_mask[:, 1:].to(device))
    return DINMBatch(tokens=both.tokens, attention_mask=both.attention_mask, edit_mask=edit_mask,
                     kl_mask=kl_mask, ref_logprobs=ref.cpu(), layer=layer,
                     resid_mid=cache[names[0]].cpu(), mlp_post=cache[names[1]].cpu())


def _answer_logprobs(model: HookedTransformer, batch: DINMBatch, predicting: Tensor) -> Float[Tensor, "n vocab"]:
    """Log-probabilities at the positions predicting ``tokens[:, 1:][predicting]`` (row-major)."""
    if batch.layer is None:
        return _logprobs(model, batch.tokens, batch.attention_mask)[:, :-1][predicting]
    mlp = model.blocks[batch.layer].mlp
    resid = batch.resid_mid + (batch.mlp_post @ mlp.W_out + mlp.b_out)
    final = model(resid, start_at_layer=batch.layer + 1, stop_at_layer=model.cfg.n_layers,
                  attention_mask=batch.attention_mask)
    return _unembed_logprobs(model, final, predicting)


def _unembed_logprobs(model: HookedTransformer, final: Float[Tensor, "b pos d_model"], predicting: Tensor
                      ) -> Float[Tensor, "n vocab"]:
    """Log-softmax of :func:`~interp.edits.batches.answer_logits` (the answer positions only)."""
    return F.log_softmax(answer_logits(model, final, predicting), dim=-1)


def dinm_loss(model: HookedTransformer, batch: DINMBatch, *, c_edit: float, kl_grad: bool = True
              ) -> Float[Tensor, ""]:
    """``c_edit * NLL(safe | prompt) + KL(edited || original)`` on the constraint's answer tokens.

    The NLL is the mean over the safe answer's tokens, the KL the mean over the knowledge
    constraint's answer tokens of the per-token KL over the vocabulary (logits of shape
    (n_tokens, d_vocab), only those positions unembedded). With ``kl_grad=False`` the KL is added
    as a constant (no gradient), as in EasyEdit. Returns a scalar tensor (shape ()).
    """
    edit_at, kl_at = batch.edit_mask[:, 1:], batch.kl_mask[:, 1:]
    logp = _answer_logprobs(model, batch, edit_at | kl_at)  # (n_edit + n_kl, vocab): row 0 then row 1
    n_edit = int(edit_at.sum())
    nll = -logp[:n_edit].gather(-1, batch.tokens[:, 1:][edit_at][:, None]).mean()
    kl_logp = logp[n_edit:]
    if not kl_grad:
        kl_logp = kl_logp.detach()
    kl = (kl_logp.exp() * (kl_logp - batch.ref_logprobs)).sum(-1).mean()
    return c_edit * nll + kl


def dinm(
    model: HookedTransformer,
    record: Any,
    *,
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
    **options: Any,
) -> EditResult:
    """Detoxify a copy of `model` with one record: locate its toxic layer, tune that ``W_out``.

    Parameters
    ----------
    model : HookedTransformer
        Never changed (the edit trains a deep copy).
    record : SafetyRecord or dict
        One SafeEdit record: ``adversarial_prompt``, ``safe_generation``, ``unsafe_generation``
        (to locate) and ``knowledge_constrain.{prompt, answer}``. A missing field raises
        ``ValueError`` naming it; a list of records raises ``TypeError``.
    seed : int, default=0
    progress : bool, default=True
    device : str or torch.device, optional
        Where the copy trains (default the model's device); location runs on the input model.
    **options
        Fields of :class:`DINMConfig` (``steps``, ``lr``, ``c_edit``, ``kl_grad``, ``locate``,
        ``layer``, ...); an unknown one raises ``TypeError``.

    Returns
    -------
    EditResult
        ``method="dinm"``, ``trainable=["blocks.{l}.mlp.W_out"]``, ``region`` that layer, and
        ``details["localization"]`` the :class:`~interp.locate.Localization` (None when
        ``layer=`` was given).

    Examples
    --------
    >>> result = dinm(model, test[0])  # doctest: +SKIP
    >>> result.region, result.trainable  # doctest: +SKIP
    (Region(layer=5, ...), ['blocks.5.mlp.W_out'])
    """
    config = DINMConfig.from_options(options, method="dinm")
    _record_fields(record)  # fail before the (costly) location and copy
    start = time.perf_counter()
    localization: Localization | None = None
    if config.layer is None:
        localization = locate_toxic_layer(model, record, method=config.locate)
        region = localization.region
    else:
        if config.layer >= model.cfg.n_layers:
            raise ValueError(f"dinm: layer={config.layer} is outside model {model.cfg.model_name!r} "
                             f"({model.cfg.n_layers} layers, 0..{model.cfg.n_layers - 1})")
        region = Region(config.layer)
    edited = copy_model(model, device=device)
    batch = dinm_batch(edited, record, max_length=config.max_length, layer=region.layer)

    def loss_fn(m: HookedTransformer, b: DINMBatch) -> Tensor:
        return dinm_loss(m, b, c_edit=config.c_edit, kl_grad=config.kl_grad)

    losses = train(edited, [batch], loss_fn, trainable=[region.tl_name], steps=config.steps, lr=config.lr,
                   seed=seed, progress=progress, desc="dinm", optimizer=config.optimizer,
                   weight_decay=config.weight_decay, grad_clip=config.grad_clip, shuffle=False)
    return EditResult(model=edited, method="dinm", trainable=[region.tl_name], losses=losses, config=config,
                      seconds=time.perf_counter() - start, seed=seed, region=region,
                      details={"localization": localization})
