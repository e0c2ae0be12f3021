"""The one training core every edit method runs on, and the pieces around it.

* :func:`copy_model` -- the deep copy an edit trains (the input model is never changed);
* :func:`select_parameters` -- which parameters train: ``"all"``, names, glob or regex patterns;
* :func:`train` -- optimizer steps over batches with a method's ``loss_fn``: trainable subset,
  AdamW (fp32 master weights for bf16/fp16 parameters), seeded, progress bar, loss log, and a
  ``FloatingPointError`` naming the step when the loss is NaN/inf;
* :func:`run_edit` -- copy, select, batch, train, time: the body of a method such as ``sft``.

A method is a config dataclass, a way to build batches and a ``loss_fn(model, batch) -> scalar``;
a loss that needs several forward passes per step (Vaccine) does them inside ``loss_fn``.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import math
import re
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from interp.checks import model_device
from interp.edits.result import EditResult

if TYPE_CHECKING:  # models.py is the only module that imports TransformerLens at run time
    from transformer_lens import HookedTransformer

    from interp.edits.config import TrainingConfig

__all__ = ["OPTIMIZERS", "copy_model", "run_edit", "select_parameters", "train"]

OPTIMIZERS = ("adamw", "sgd")
LossFn = Callable[[Any, Any], torch.Tensor]


def _hooked_modules(model: torch.nn.Module) -> list[str]:
    return [name or "<root>" for name, m in model.named_modules()
            if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks]


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def copy_model(model: HookedTransformer, *, device: str | torch.device | None = None) -> HookedTransformer:
    """A deep copy of `model` that shares no storage with it, optionally on another device.

    Memory: one more full set of parameters and buffers (the organism ≈ 25 MB in fp32,
    SmolLM2-135M ≈ 0.54 GB in fp32, a 7B model ≈ 13.5 GB in bf16), made on the model's own
    device before moving. The tokenizer is shared (it is never changed). Parameters come back
    contiguous and trainable even when the model is copied inside
    :func:`interp.layout.inference_layout` or from inference-mode tensors. Hooks on the model are
    not carried over (with a warning).

    Parameters
    ----------
    model : HookedTransformer
    device : str or torch.device, optional
        Where the copy goes; default the model's device. The dtype is kept (models from
        :func:`interp.models.load_model` are bf16 on CUDA, fp32 on CPU).

    Returns
    -------
    HookedTransformer
        The copy, with ``cfg.device`` updated when moved.

    Examples
    --------
    >>> twin = copy_model(model)  # doctest: +SKIP
    >>> twin.W_E.data_ptr() != model.W_E.data_ptr()  # doctest: +SKIP
    True
    """
    hooked = _hooked_modules(model)
    tokenizer = getattr(model, "tokenizer", None)
    memo: dict[int, Any] = {} if tokenizer is None else {id(tokenizer): tokenizer}
    with torch.inference_mode(False), torch.no_grad():
        new = copy.deepcopy(model, memo)
        for p in new.parameters():
            if p.is_inference() or not p.is_contiguous():
                p.data = p.data.clone(memory_format=torch.contiguous_format)
        for module in new.modules():
            for key, buf in module._buffers.items():
                if buf is not None and buf.is_inference():
                    module._buffers[key] = buf.clone()
    if hooked:
        if hasattr(new, "reset_hooks"):
            new.reset_hooks(including_permanent=True)
        for m in new.modules():
            for hooks in (m._forward_hooks, m._forward_pre_hooks, m._backward_hooks, m._backward_pre_hooks):
                hooks.clear()
        warnings.warn(f"copy_model: the model carries hooks on {hooked[:3]}"
                      f"{' ...' if len(hooked) > 3 else ''}; the copy is made without them",
                      UserWarning, stacklevel=2)
    if device is not None and not _same_device(torch.device(device), model_device(new)):
        if hasattr(new, "cfg"):
            new.to(str(torch.device(device)), print_details=False)  # TL's to() updates cfg.device
        else:
            new.to(device)
    return new


def select_parameters(model: torch.nn.Module, spec: str | Sequence[str] = "all") -> list[str]:
    """Names of the parameters selected by `spec`, in ``model.named_parameters()`` order.

    Parameters
    ----------
    model : torch.nn.Module
    spec : "all", str or sequence of str
        ``"all"``; or parameter names (``"blocks.1.mlp.W_out"``); or glob patterns
        (``"blocks.*.mlp.W_out"``, ``"blocks.[0-2].attn.*"``); or regular expressions prefixed
        ``"re:"`` (``"re:blocks\\.\\d+\\.ln\\d\\..*"``, matched against the whole name). A single
        str is one item. Every item must select at least one parameter.

    Returns
    -------
    list of str

    Raises
    ------
    KeyError
        An item selects nothing; the message lists the closest parameter names.
    TypeError, ValueError
        `spec` is not a str / sequence of str, is empty, or holds a bad regular expression.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> select_parameters(net, "*.weight")
    ['0.weight', '1.weight']
    >>> select_parameters(net, ["1.bias", "re:0\\\\..*"])
    ['0.weight', '0.bias', '1.bias']
    >>> select_parameters(net, ["1.wieght"])
    Traceback (most recent call last):
    ...
    KeyError: "trainable: no parameter matches '1.wieght' (4 tensors, e.g. '0.weight'); closest: ['1.weight', '0.weight', '1.bias']"
    """
    names = [n for n, _ in model.named_parameters()]
    if isinstance(spec, str):
        if spec == "all":
            return names
        items = [spec]
    else:
        try:
            items = list(spec)
        except TypeError:
            raise TypeError(f'trainable must be "all", a str or a sequence of str, '
                            f"got {type(spec).__name__}") from None
    if not items:
        raise ValueError('trainable is empty; pass "all" or at least one name / pattern')
    chosen: set[str] = set()
    for item in items:
        if not isinstance(item, str) or not item:
            raise TypeError(f"trainable items must be non-empty str, got {item!r}")
        if item == "all":
            hits = names
        elif item.startswith("re:"):
            try:
                rx = re.compile(item[3:])
            except re.error as e:
                raise ValueError(f"trainable: bad regular expression {item!r}: {e}") from None
            hits = [n for n in names if rx.fullmatch(n)]
        elif any(c in item for c in "*?["):
            hits = [n for n in names if fnmatch.fnmatchcase(n, item)]
        else:
            hits = [item] if item in names else []
        if not hits:
            probe = re.sub(r"^re:|[*?\[\]\\+^$()]", "", item)
            near = difflib.get_close_matches(probe, names, n=3, cutoff=0.4)
            raise KeyError(f"trainable: no parameter matches {item!r} ({len(names)} tensors, "
                           f"e.g. {names[0]!r}); closest: {near}")
        chosen.update(hits)
    return [n for n in names if n in chosen]


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor) or (hasattr(batch, "to") and not isinstance(batch, torch.nn.Module)):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _make_optimizer(name: str, params: list[torch.Tensor], lr: float, weight_decay: float):
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")


def train(
    model: HookedTransformer,
    batches: Sequence[Any],
    loss_fn: LossFn,
    *,
    trainable: str | Sequence[str] = "all",
    steps: int,
    lr: float,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str = "train",
    optimizer: str = "adamw",
    weight_decay: float = 0.0,
    grad_clip: float | None = None,
    shuffle: bool = True,
    master_weights: bool | None = None,
    before_step: Callable[[int, Any], None] | None = None,
) -> list[float]:
    """Train `model` IN PLACE for `steps` optimizer steps; return the loss of each step.

    Call it on a copy (:func:`copy_model`); edit methods do. Only the selected parameters get
    gradients and change; every other tensor stays bit-identical. ``requires_grad`` flags are
    put back as they were and gradients dropped on return, also on error.

    Parameters
    ----------
    model : HookedTransformer
        Trained in place (any ``torch.nn.Module`` works).
    batches : sequence
        Anything ``loss_fn`` understands; tensors, dicts/tuples of tensors and objects with a
        ``.to(device)`` method are moved to the model's device once, up front. Cycled over, in a
        new order each pass when `shuffle`.
    loss_fn : callable
        ``loss_fn(model, batch) -> scalar tensor``. It may run several forward passes.
    trainable : "all", str or sequence of str
        See :func:`select_parameters`.
    steps : int
        Optimizer steps (one batch each).
    lr : float
    seed : int, default=0
        Seeds the batch order (a local ``torch.Generator``) and, within the loop only, torch's
        global RNG (``torch.random.fork_rng``: the caller's RNG state is restored). Same seed,
        same losses and weights on CPU.
    device : str or torch.device, optional
        Must be the model's device (checked); default the model's.
    progress : bool, default=True
        A tqdm bar showing the loss.
    desc : str, default="train"
        The bar's label and the method named in errors.
    optimizer : {"adamw", "sgd"}, default="adamw"
    weight_decay : float, default=0.0
    grad_clip : float, optional
        Clip the global gradient norm; a non-finite norm raises ``FloatingPointError``.
    shuffle : bool, default=True
    master_weights : bool, optional
        Keep fp32 copies of the trained parameters for the optimizer (the update is computed in
        fp32, then rounded into the parameter). Default: when a trained parameter is bf16/fp16,
        where small updates would otherwise round away. Costs 4 bytes per trained scalar.
    before_step : callable, optional
        ``before_step(step, model)``, called before each step's ``loss_fn``.

    Returns
    -------
    list of float
        ``losses[i]``: the loss at step ``i`` (0-based), before that step's update.

    Raises
    ------
    FloatingPointError
        The loss (or, with `grad_clip`, the gradient norm) is NaN or infinite; the message names
        `desc` and the step; the exception carries ``.step`` and ``.losses`` (the finite ones).
    """
    run_device = model_device(model, device)
    batches = list(batches)
    if not batches:
        raise ValueError(f"{desc}: no batches to train on")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{desc}: steps must be an int >= 1, got {steps!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"{desc}: lr must be a finite number > 0, got {lr!r}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"{desc}: grad_clip must be > 0 or None, got {grad_clip!r}")
    names = set(select_parameters(model, trainable))
    params = dict(model.named_parameters())
    flags = {n: p.requires_grad for n, p in params.items()}
    trained = [p for n, p in params.items() if n in names]
    if master_weights is None:
        master_weights = any(p.dtype in (torch.bfloat16, torch.float16) for p in trained)
    batches = [_to_device(b, run_device) for b in batches]
    generator = torch.Generator().manual_seed(seed)
    cuda = [run_device.index if run_device.index is not None else torch.cuda.current_device()] \
        if run_device.type == "cuda" else []
    losses: list[float] = []
    try:
        with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            for n, p in params.items():
                p.requires_grad_(n in names)
            masters = [p.detach().float().clone() for p in trained] if master_weights else trained
            opt = _make_optimizer(optimizer, masters, lr, weight_decay)
            order: list[int] = []
            bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
            for step in bar:
                if not order:
                    order = (torch.randperm(len(batches), generator=generator) if shuffle
                             else torch.arange(len(batches))).tolist()
                batch = batches[order.pop(0)]
                if before_step is not None:
                    before_step(step, model)
                loss = loss_fn(model, batch)
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise TypeError(f"{desc}: loss_fn must return a scalar tensor, got "
                                    f"{type(loss).__name__}{tuple(getattr(loss, 'shape', ()))}")
                value = float(loss.detach().float())
                if not math.isfinite(value):
                    _raise_nonfinite(desc, "the loss", value, step, steps, losses)
                for p in trained:
                    p.grad = None
                loss.reshape(()).backward()
                if master_weights:
                    for m, p in zip(masters, trained):
                        m.grad = None if p.grad is None else p.grad.float()
                        p.grad = None
                if grad_clip is not None:
                    norm = float(torch.nn.utils.clip_grad_norm_(masters, grad_clip))
                    if not math.isfinite(norm):
                        _raise_nonfinite(desc, "the gradient norm", norm, step, steps, losses)
                opt.step()
                opt.zero_grad(set_to_none=True)
                if master_weights:
                    with torch.no_grad():
                        for m, p in zip(masters, trained):
                            p.copy_(m)
                losses.append(value)
                bar.set_postfix(loss=f"{value:.4g}", refresh=False)
    finally:
        for n, p in params.items():
            p.requires_grad_(flags[n])
            p.grad = None
    return losses


def _raise_nonfinite(desc: str, what: str, value: float, step: int, steps: int,
                     losses: list[float]) -> None:
    last = f"{losses[-1]:.4g}" if losses else "none"
    err = FloatingPointError(
        f"{desc}: {what} is {value} at step {step} (0-based) of {steps}; the {len(losses)} "
        f"losses before were finite (last {last}). Lower lr, set grad_clip, or check the inputs"
    )
    err.step, err.losses = step, list(losses)  # type: ignore[attr-defined]
    raise err


def run_edit(
    model: HookedTransformer,
    config: TrainingConfig,
    *,
    make_batches: Callable[[Any], Sequence[Any]],
    loss_fn: LossFn,
    seed: int,
    progress: bool,
    device: str | torch.device | None,
) -> EditResult:
    """Copy `model`, build batches on the copy, train it with `loss_fn`: one method's body.

    Parameters
    ----------
    model : HookedTransformer
        Never changed.
    config : TrainingConfig
        Its ``name`` labels the bar and the result; :meth:`~TrainingConfig.train_kwargs` goes to
        :func:`train`.
    make_batches : callable
        ``make_batches(copy) -> batches``, called on the copy (on `device`) before training, e.g.
        to tokenise, or to compute a frozen reference's log-probs (DPO).
    loss_fn : callable
        ``loss_fn(model, batch) -> scalar tensor``.
    seed, progress, device
        As in :func:`train`; `device` moves the copy (see :func:`copy_model`).

    Returns
    -------
    EditResult
    """
    start = time.perf_counter()
    names = select_parameters(model, config.trainable)  # fail before the (costly) copy
    edited = copy_model(model, device=device)
    batches = make_batches(edited)
    losses = train(edited, batches, loss_fn, seed=seed, progress=progress, desc=config.name,
                   **{**config.train_kwargs(), "trainable": names})
    return EditResult(model=edited, method=config.name, trainable=names, losses=losses,
                      config=config, seconds=time.perf_counter() - start, seed=seed)
