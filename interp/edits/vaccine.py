"""Vaccine: perturbation-aware safety alignment (Huang et al., NeurIPS 2024, arXiv 2402.01109).

Vaccine trains on the same data and loss as :func:`~interp.edits.sft.sft` (adversarial prompt ->
safe generation, mean NLL of the answer tokens), but each optimizer step runs two passes:

1. forward + backward of the loss to get ``g_l = dL / d attn_out_l``, the gradient with respect
   to the output of every block's attention (TransformerLens ``blocks.{l}.hook_attn_out``, the
   output of the attention module, as the paper's trainer hooks ``LlamaAttention`` /
   ``OPTAttention``). Only ``torch.autograd.grad`` with respect to those activations is taken:
   no gradient reaches the weights in this pass;
2. the perturbation ``e_l = rho * g_l / ||[g_1, ..., g_L]||_2`` -- ONE L2 norm over all layers,
   the whole batch and every position, as in the paper's code -- is added to those outputs as a
   constant (detached: no second-order term), and the loss of this perturbed forward pass is
   what the training core backpropagates into the weights (and logs).

Positions: like the paper, the perturbation covers every position, padding included. The
gradient is exactly zero on (left) padding, which no real token attends to, and after the last
answer token, so the gradient perturbation lives on the real tokens anyway; the Gaussian
control spreads part of its norm over padding.

Control (``perturbation="gaussian"``): the same second pass with ``e`` drawn from a standard
normal (a ``torch.Generator`` seeded with the edit's seed, on the model's device) and rescaled
to the same global norm ``rho``; no first pass. The paper's own random control
(``RandomVaccineTrainer``) instead draws each entry with variance ``rho`` (a global norm of
``sqrt(rho * numel)``, far larger); ours isolates the direction at equal size.

Measured on the organism (``scripts/vaccine_attack.py``, seeds 0 and 1; 40 steps, batch 4,
lr 2e-4, rho 2; then 30 steps of a 10 %-harmful attack on 200 val samples): all three alignments
refuse 100 % of the test prompts; after the attack refusal of the jailbreak prompts is 97.9 / 93.8 %
for Vaccine, 75.0 / 81.2 % for SFT and 75.0 / 81.2 % for the Gaussian control (plain questions:
100 / 92.6, 83.3 / 83.3, 87.0 / 85.2 %); unsafe answers stay at 0-4 % for all three. The
Gaussian control's losses equal SFT's to three decimals: noise of norm 2 spread over every
entry is negligible, whereas the gradient direction at the same norm raises it by 70-90 %.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from interp.edits.batches import AnswerBatch, answer_batches, mean_answer_nll, record_texts
from interp.edits.config import TrainingConfig
from interp.edits.core import run_edit
from interp.hooks import attn_out, temporary_hooks

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

    from interp.edits.result import EditResult

__all__ = [
    "PERTURBATIONS",
    "VaccineConfig",
    "attn_out_gradients",
    "gaussian_perturbation",
    "global_norm",
    "perturbed_nll",
    "vaccine",
    "vaccine_loss",
    "vaccine_perturbation",
]

VACCINE_FIELDS = ("adversarial_prompt", "safe_generation")
#: ``"vaccine"``: the gradient direction (the paper); ``"gaussian"``: random, same norm (control).
PERTURBATIONS = ("vaccine", "gaussian")
_EPS = 1e-7  # the paper's code: scale = rho / (norm + 1e-7)


@dataclass(frozen=True, kw_only=True)
class VaccineConfig(TrainingConfig):
    """Options of :func:`vaccine`.

    Parameters
    ----------
    rho : float, default=2.0
        Global L2 norm of the perturbation over all layers' attention outputs (the paper's
        default for Llama-2-7B; it sweeps 0.1-10). 0 gives plain SFT (at twice the cost).
    perturbation : {"vaccine", "gaussian"}, default="vaccine"
        ``"vaccine"``: the normalised gradient of the loss (the paper); ``"gaussian"``: seeded
        Gaussian noise rescaled to norm ``rho`` (a control: same size, random direction).
    steps : int, default=100
    lr : float, default=1e-4
    batch_size : int, default=8
        Defaults as :class:`~interp.edits.sft.SFTConfig`, so Vaccine and SFT compare at equal
        steps; the paper trains LoRA adapters at lr 1e-3 for 50 epochs of 2,000 samples.
    trainable, max_length, optimizer, weight_decay, grad_clip
        As in :class:`~interp.edits.config.TrainingConfig`.

    Examples
    --------
    >>> VaccineConfig(rho=0.5, perturbation="gaussian").rho
    0.5
    >>> VaccineConfig(perturbation="noise")
    Traceback (most recent call last):
    ...
    ValueError: VaccineConfig.perturbation must be one of ['vaccine', 'gaussian'], got 'noise'
    """

    name: ClassVar[str] = "vaccine"

    rho: float = 2.0
    perturbation: str = "vaccine"
    steps: int = 100
    lr: float = 1e-4
    batch_size: int = 8

    def validate(self) -> None:
        super().validate()
        self._positive_float("rho", allow_zero=True)
        self._choice("perturbation", PERTURBATIONS)


def global_norm(tensors: Mapping[str, Tensor] | Sequence[Tensor]) -> Tensor:
    """One L2 norm over all entries of all `tensors` (any shapes), ``||[t_1, ..., t_L]||_2``:
    a float32 tensor of shape ().

    Examples
    --------
    >>> float(global_norm([torch.tensor([3.0]), torch.tensor([[4.0]])]))
    5.0
    """
    values = list(tensors.values()) if isinstance(tensors, Mapping) else list(tensors)
    if not values:
        raise ValueError("global_norm: no tensors")
    return torch.stack([t.detach().float().pow(2).sum() for t in values]).sum().sqrt()


def vaccine_perturbation(grads: Mapping[str, Tensor], rho: float) -> dict[str, Tensor]:
    """``e_l = rho * g_l / (||[g_1, ..., g_L]||_2 + 1e-7)``: one norm across all layers and the batch.

    Parameters
    ----------
    grads : mapping of hook name to Tensor
        ``dL / d attn_out_l`` for each layer, e.g. from :func:`attn_out_gradients`.
    rho : float
        The perturbation's global norm (>= 0).

    Returns
    -------
    dict of str to Tensor
        Same keys, shapes and dtypes, detached; their :func:`global_norm` is ``rho`` (0 when
        every gradient is 0).

    Examples
    --------
    >>> e = vaccine_perturbation({"a": torch.tensor([3.0, 0.0]), "b": torch.tensor([4.0])}, rho=2.0)
    >>> [round(float(v), 4) for v in torch.cat(list(e.values()))]
    [1.2, 0.0, 1.6]
    """
    if not grads:
        raise ValueError("vaccine_perturbation: no gradients")
    scale = float(rho) / (float(global_norm(grads)) + _EPS)
    return {name: (g.detach().float() * scale).to(g.dtype) for name, g in grads.items()}


def gaussian_perturbation(
    shapes: Mapping[str, Sequence[int]],
    rho: float,
    *,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, Tensor]:
    """Standard normal noise of the given shapes, rescaled so that its global L2 norm is `rho`.

    Parameters
    ----------
    shapes : mapping of hook name to shape
    rho : float
    generator : torch.Generator, optional
        On `device`; seeds the draw (same generator state, same noise).
    device, dtype
        Where and in which dtype the noise is returned (drawn in float32).

    Examples
    --------
    >>> e = gaussian_perturbation({"a": (2, 3), "b": (4,)}, 2.0, generator=torch.Generator().manual_seed(0))
    >>> round(float(global_norm(e)), 5)
    2.0
    """
    noise = {name: torch.randn(tuple(shape), generator=generator, device=device, dtype=torch.float32)
             for name, shape in shapes.items()}
    scale = float(rho) / (float(global_norm(noise)) + _EPS)
    return {name: (n * scale).to(dtype) for name, n in noise.items()}


def _attn_names(model: HookedTransformer) -> list[str]:
    return [attn_out(layer) for layer in range(model.cfg.n_layers)]


def attn_out_gradients(model: HookedTransformer, batch: AnswerBatch) -> tuple[Tensor, dict[str, Tensor]]:
    """Pass 1: the loss and ``dL / d attn_out_l`` for every layer, without touching weight gradients.

    Parameters
    ----------
    model : HookedTransformer
    batch : AnswerBatch
        On the model's device.

    Returns
    -------
    loss : Tensor of shape ()
        :func:`~interp.edits.batches.mean_answer_nll` of the unperturbed pass (detached).
    grads : dict of str to Tensor of shape (batch, pos, d_model)
        Keyed ``blocks.{l}.hook_attn_out``. The same whatever parameters are trainable: an
        activation that needs no gradient (frozen layers below it) is made a leaf first.
    """
    names = _attn_names(model)
    captured: dict[str, Tensor] = {}

    def keep(act: Tensor, hook: Any) -> Tensor:
        if not act.requires_grad:  # nothing below it trains: a leaf cuts no path to the loss
            act = act.detach().requires_grad_(True)
        captured[hook.name] = act
        return act

    with torch.enable_grad(), temporary_hooks(model, [(name, keep) for name in names]):
        loss = mean_answer_nll(model, batch)
    grads = torch.autograd.grad(loss, [captured[name] for name in names], allow_unused=True)
    out = {name: torch.zeros_like(captured[name]) if g is None else g.detach()
           for name, g in zip(names, grads)}
    return loss.detach(), out


def perturbed_nll(model: HookedTransformer, batch: AnswerBatch, perturbations: Mapping[str, Tensor]) -> Tensor:
    """Pass 2: :func:`~interp.edits.batches.mean_answer_nll` with constants added to activations.

    Parameters
    ----------
    perturbations : mapping of hook name to Tensor
        Added to that hook's activation (broadcast); detached first, so no gradient flows
        through them.

    Returns
    -------
    Tensor of shape ()
        Differentiable with respect to the model's trainable parameters.
    """
    fixed = {name: e.detach() for name, e in perturbations.items()}

    def add(act: Tensor, hook: Any) -> Tensor:
        return act + fixed[hook.name].to(act.dtype)

    with temporary_hooks(model, [(name, add) for name in fixed]):
        return mean_answer_nll(model, batch)


def vaccine_loss(
    model: HookedTransformer,
    batch: AnswerBatch,
    *,
    rho: float,
    perturbation: str = "vaccine",
    generator: torch.Generator | None = None,
) -> Tensor:
    """One Vaccine step's loss: pass 1 (gradient perturbation) or Gaussian noise, then pass 2.

    Parameters
    ----------
    model : HookedTransformer
    batch : AnswerBatch
    rho : float
    perturbation : {"vaccine", "gaussian"}
    generator : torch.Generator, optional
        Gaussian control only; on the model's device.

    Returns
    -------
    Tensor of shape ()
        The perturbed loss; ``backward()`` on it updates the weights as Vaccine does.
    """
    if perturbation == "vaccine":
        _, grads = attn_out_gradients(model, batch)
        e = vaccine_perturbation(grads, rho)
    elif perturbation == "gaussian":
        shape = (*batch.tokens.shape, model.cfg.d_model)
        e = gaussian_perturbation({name: shape for name in _attn_names(model)}, rho, generator=generator,
                                  device=batch.tokens.device, dtype=model.cfg.dtype)
    else:
        raise ValueError(f"perturbation must be one of {list(PERTURBATIONS)}, got {perturbation!r}")
    return perturbed_nll(model, batch, e)


def vaccine(
    model: HookedTransformer,
    dataset: Any,
    *,
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
    **options: Any,
) -> EditResult:
    """Vaccine alignment of a copy of `model`: SFT on safe answers under worst-case embedding drift.

    See the module docstring for the two passes. Each step costs about two SFT steps (one for
    the Gaussian control); memory is that of SFT plus one activation-sized tensor per layer.

    Parameters
    ----------
    model : HookedTransformer
        Never changed: the edit trains a deep copy.
    dataset : SafetyDataset, sequence of records, or one record
        Each record needs ``adversarial_prompt`` and ``safe_generation``; a missing one raises
        ``ValueError`` naming the record and the field.
    seed : int, default=0
        Batch order, and the Gaussian control's noise (a local generator).
    progress : bool, default=True
    device : str or torch.device, optional
        Where the copy trains; default the model's device (bf16 on CUDA trains with fp32 master
        weights; the perturbation is computed in float32 and added in the model's dtype).
    **options
        Fields of :class:`VaccineConfig` (``rho``, ``perturbation``, ``steps``, ``lr``, ...);
        an unknown option raises ``TypeError`` naming it.

    Returns
    -------
    EditResult
        ``method="vaccine"``; ``losses`` are the perturbed (pass 2) losses.

    Examples
    --------
    >>> import interp
    >>> model = interp.load_model("organism")  # doctest: +SKIP
    >>> aligned = vaccine(model, interp.load_dataset("organism", split="train"), rho=2.0)  # doctest: +SKIP
    >>> control = vaccine(model, interp.load_dataset("organism", split="train"),
    ...                   perturbation="gaussian")  # doctest: +SKIP
    """
    config = VaccineConfig.from_options(options, method="vaccine")
    pairs = record_texts(dataset, VACCINE_FIELDS, method="vaccine")
    prompts = [p for p, _ in pairs]
    answers = [a for _, a in pairs]
    generators: dict[torch.device, torch.Generator] = {}

    def make_batches(edited: HookedTransformer) -> list[AnswerBatch]:
        return answer_batches(edited, prompts, answers, batch_size=config.batch_size,
                              max_length=config.max_length)

    def loss_fn(edited: HookedTransformer, batch: AnswerBatch) -> Tensor:
        where = batch.tokens.device
        if where not in generators:
            generators[where] = torch.Generator(device=where).manual_seed(seed)
        return vaccine_loss(edited, batch, rho=config.rho, perturbation=config.perturbation,
                            generator=generators[where])

    return run_edit(model, config, make_batches=make_batches, loss_fn=loss_fn,
                    seed=seed, progress=progress, device=device)
