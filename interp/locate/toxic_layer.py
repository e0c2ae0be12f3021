"""Locate the toxic layer of one record (:func:`locate_toxic_layer`) or of a dataset (:func:`locate_over`).

See :mod:`interp.locate` for the method and :mod:`interp.locate.distances` for the three
definitions of the distance.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from interp.checks import record_field, record_label, record_text
from interp.layout import inference_layout
from interp.locate.distances import LOCATE_METHODS, chat_distances, easyedit_distances
from interp.locate.localization import Localization, LocationSummary, Region

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["locate_over", "locate_toxic_layer"]


# ---------------------------------------------------------------------------------------------
# record checks
# ---------------------------------------------------------------------------------------------


def _fields(record: Any, index: int | None, *, need_prompt: bool) -> tuple[str, str, str]:
    where = record_label(record, index)
    names = (("adversarial_prompt",) if need_prompt else ()) + ("safe_generation", "unsafe_generation")
    values: dict[str, str] = {}
    for name in names:
        value = record_text(record, name)
        if value is None:
            raise ValueError(f"{where}: field {name!r} must be a non-empty string, got "
                             f"{record_field(record, name)!r}; locating the toxic layer needs a safe "
                             "and an unsafe generation")
        values[name] = value
    return values.get("adversarial_prompt", ""), values["safe_generation"], values["unsafe_generation"]


def _check_method(method: str) -> None:
    if method not in LOCATE_METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {list(LOCATE_METHODS)}")


def _check_drop_first(method: str, drop_first_position: bool) -> None:
    if drop_first_position and method != "easyedit":
        raise ValueError(f"drop_first_position=True applies to method 'easyedit' only; method {method!r} "
                         "never reads the first position")


def _localization(distances: Tensor, method: str, record: Any) -> Localization:
    layer = int(torch.argmax(distances))
    return Localization(distances=distances, layer=layer, region=Region(layer), method=method,
                        record_id=record_field(record, "id"))


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def locate_toxic_layer(
    model: HookedTransformer,
    record: Any,
    *,
    method: str = "response_mean",
    drop_first_position: bool = False,
    device: str | torch.device | None = None,
) -> Localization:
    """Find the layer where a record's safe and unsafe answers are furthest apart.

    Parameters
    ----------
    model : HookedTransformer
        From :func:`interp.load_model` (tokenizer and chat template attached).
    record : SafetyRecord
        Needs ``safe_generation`` and ``unsafe_generation`` (and ``adversarial_prompt`` for the
        chat methods).
    method : str, default="response_mean"
        One of :data:`LOCATE_METHODS`: ``"response_mean"``, ``"last_token"``, ``"easyedit"``
        (reproduces EasyEdit's DINM locator) or the scale-free ``"response_relative"`` and
        ``"response_cosine"``; see :mod:`interp.locate.distances`.
    drop_first_position : bool, default=False
        ``"easyedit"`` only: leave the first position (whose "massive activations" weigh in)
        out of the distance. The chat methods never read the first position.
    device : str or torch.device, optional
        Default (and only allowed value): the model's device.

    Returns
    -------
    Localization
        ``distances`` of shape (n_layers,), ``layer`` = argmax, ``region`` = that layer's
        ``mlp.W_out``.

    Raises
    ------
    ValueError
        Unknown ``method`` (the valid ones are listed) or a record without a safe / unsafe
        generation (or prompt).

    Examples
    --------
    >>> loc = locate_toxic_layer(model, test[0])  # doctest: +SKIP
    >>> loc.layer, str(loc.region)  # doctest: +SKIP
    (4, 'blocks.4.mlp.W_out')
    """
    _check_method(method)
    _check_drop_first(method, drop_first_position)
    prompt, safe, unsafe = _fields(record, None, need_prompt=method != "easyedit")
    if method == "easyedit":
        distances = easyedit_distances(model, safe, unsafe, device=device,
                                       drop_first_position=drop_first_position)
    else:
        distances = chat_distances(model, [(prompt, safe, unsafe)], method=method,
                                   batch_size=2, device=device)[0]
    return _localization(distances, method, record)


def locate_over(
    model: HookedTransformer,
    dataset: Iterable[Any],
    *,
    method: str = "response_mean",
    drop_first_position: bool = False,
    batch_size: int = 16,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> LocationSummary:
    """Locate the toxic layer of every record of ``dataset`` (one localization per record).

    Parameters
    ----------
    model : HookedTransformer
    dataset : SafetyDataset or iterable of SafetyRecord
    method : str, default="response_mean"
        One of :data:`LOCATE_METHODS`; see :func:`locate_toxic_layer`.
    drop_first_position : bool, default=False
        ``"easyedit"`` only; see :func:`locate_toxic_layer`.
    batch_size : int, default=16
        Sequences per forward pass for the chat methods (``"easyedit"`` runs one record, i.e. its
        two answers padded together, per pass, as EasyEdit does).
    progress : bool, default=True
    device : str or torch.device, optional

    Returns
    -------
    LocationSummary
        ``str(summary)`` prints the layer distribution, e.g. ``"layer 4: 31, layer 5: 2"``.

    Raises
    ------
    ValueError
        Empty dataset, unknown method, or a record (named by index and id) without the fields.
    """
    _check_method(method)
    _check_drop_first(method, drop_first_position)
    records = list(dataset)
    if not records:
        raise ValueError("dataset is empty; locate_over needs at least one record")
    triples = [_fields(rec, i, need_prompt=method != "easyedit") for i, rec in enumerate(records)]
    with inference_layout(model):  # once, not per record (easyedit runs one record per pass)
        distances = _distances_over(model, triples, method=method, drop_first_position=drop_first_position,
                                    batch_size=batch_size, progress=progress, device=device)
    return LocationSummary([_localization(d, method, rec) for d, rec in zip(distances, records)], method)


def _distances_over(model: HookedTransformer, triples: list[tuple[str, str, str]], *, method: str,
                    drop_first_position: bool, batch_size: int, progress: bool, device: Any) -> Tensor:
    """(n_records, n_layers) distances of every record."""
    rows: list[Tensor] = []
    if method == "easyedit":
        for _, safe, unsafe in tqdm(triples, desc="locate (easyedit)", disable=not progress):
            rows.append(easyedit_distances(model, safe, unsafe, device=device,
                                           drop_first_position=drop_first_position))
        return torch.stack(rows)
    chunk = max(1, 4 * batch_size)  # records per collect call: bounded memory
    for start in tqdm(range(0, len(triples), chunk), desc=f"locate ({method})", disable=not progress):
        rows.append(chat_distances(model, triples[start:start + chunk], method=method,
                                   batch_size=batch_size, device=device))
    return torch.cat(rows)
