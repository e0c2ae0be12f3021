"""Input checks shared by every layer: lists of strings, record fields, devices.

The bottom of the layer stack (DESIGN.md): it imports nothing from ``interp``, so every module
may use it. Each check raises a clear error naming the argument (``what``), the record and the
field, and what was expected, instead of a traceback from deep inside torch or scikit-learn.

* :func:`check_texts` -- a list of strings (never a single ``str``, which would iterate by
  character);
* :func:`record_field` / :func:`record_text` -- read a (nested) field of a record that may be a
  dataclass such as :class:`~interp.data.SafetyRecord`, a dict, or any object with attributes;
* :func:`record_label` -- "record #3 (id='x')", the way every error names a record;
* :func:`default_device` / :func:`model_device` -- the one device rule: cuda when available,
  and a model is never moved behind its owner's back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "check_texts",
    "record_field",
    "record_text",
    "record_label",
    "default_device",
    "model_device",
]


def check_texts(
    values: Any,
    *,
    what: str = "texts",
    allow_empty_list: bool = True,
    non_blank: bool = False,
) -> list[str]:
    """Return `values` as a ``list[str]``, or raise naming `what` and the bad item.

    Parameters
    ----------
    values : iterable of str
        A single ``str`` is refused (it would be read character by character).
    what : str, default="texts"
        The argument's name, used in messages (``"prompts"``, ``"responses"``, ...).
    allow_empty_list : bool, default=True
        False raises ``ValueError`` for an empty list.
    non_blank : bool, default=False
        True raises ``ValueError`` for an item that is empty after stripping whitespace.

    Examples
    --------
    >>> check_texts(("a", "b"), what="prompts")
    ['a', 'b']
    >>> check_texts("a", what="prompts")
    Traceback (most recent call last):
    ...
    TypeError: prompts must be a sequence of strings, got a single str; wrap it in a list: ['a']
    """
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of strings, got a single str; wrap it in a list: "
                        f"[{values[:40]!r}]")
    if not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a sequence of strings, got {type(values).__name__}")
    out = list(values)
    for i, v in enumerate(out):
        if not isinstance(v, str):
            raise TypeError(f"{what}[{i}] must be a str, got {type(v).__name__}: {v!r:.80}")
        if non_blank and not v.strip():
            raise ValueError(f"{what}[{i}] must be a non-empty string, got {v!r}")
    if not allow_empty_list and not out:
        raise ValueError(f"{what} is empty; need at least one string")
    return out


def record_field(record: Any, path: str | Sequence[str], default: Any = None) -> Any:
    """Read ``record.<path>`` from a dataclass/object or ``record[<path>]`` from a dict.

    Parameters
    ----------
    record : object or dict
    path : str or sequence of str
        One field name or a nested path, e.g. ``("generalization_test", "other_question")``.
        A dict key may also be written with spaces, as in the SafeEdit JSON
        (``"knowledge constrain"``): underscores and spaces are tried both ways.
    default : any, default=None
        Returned when a step of the path is missing.

    Examples
    --------
    >>> record_field({"knowledge constrain": {"prompt": "Q?"}}, ("knowledge_constrain", "prompt"))
    'Q?'
    """
    names = (path,) if isinstance(path, str) else tuple(path)
    obj = record
    for name in names:
        if obj is None:
            return default
        if isinstance(obj, dict):
            for key in (name, name.replace("_", " "), name.replace(" ", "_")):
                if key in obj:
                    obj = obj[key]
                    break
            else:
                return default
        else:
            obj = getattr(obj, name.replace(" ", "_"), default)
            if obj is default:
                return default
    return obj


def record_text(record: Any, path: str | Sequence[str]) -> str | None:
    """:func:`record_field` when it is a non-blank string, else None."""
    value = record_field(record, path)
    return value if isinstance(value, str) and value.strip() else None


def record_label(record: Any, index: int | None = None) -> str:
    """How errors name a record: ``"record #3 (id='a/1')"``, ``"record 'a/1'"`` or ``"record #3"``."""
    rid = record_field(record, "id")
    if rid is None:
        rid = record_field(record, "case_id")
    if index is None:
        return f"record {rid!r}" if rid is not None else "record"
    return f"record #{index} (id={rid!r})" if rid is not None else f"record #{index}"


def default_device() -> str:
    """``"cuda"`` if a CUDA device is available, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_device(model: Any, device: Any = None) -> Any:
    """The ``torch.device`` the model's parameters live on, checked against a requested `device`.

    detox-interp never moves a model it was given: a `device` that differs from the model's
    raises ``ValueError`` saying how to move it. ``device=None`` accepts the model's device.
    """
    import torch

    try:
        here = next(model.parameters()).device
    except StopIteration:  # a model without parameters
        here = torch.device(getattr(getattr(model, "cfg", None), "device", None) or "cpu")
    if device is None:
        return here
    want = torch.device(device)
    if want.type != here.type or (want.index is not None and here.index is not None and want.index != here.index):
        raise ValueError(
            f"device={str(want)!r} but the model is on {str(here)!r}; move the model first "
            f"(model.to({str(want)!r})) - detox-interp never moves a model it was given"
        )
    return here
