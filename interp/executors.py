"""How independent work is mapped: in this process, one task after another, or as Ray tasks.

:func:`compare_mechanisms` (one task per method, seed and DINM record) and the steering sweeps
(one task per clamp value) hand their tasks to an executor and get one :class:`TaskOutcome` per
task back, in task order. The toolkit has no scheduler of its own: :class:`RayExecutor` sends each
task to a Ray cluster (``RAY_ADDRESS`` when set, else a local one) with its resource request, and
the work shared by all tasks (the base model, the data) goes once into Ray's object store.

A task that raises is retried (``retries`` times) and then reported in its outcome with its
error; the other tasks' results are kept. Both executors behave the same, so a serial run and a
Ray run of the same tasks with the same seeds give the same results (each task seeds itself).

This module imports nothing from the rest of the package: it sits at the bottom of the layers
so that the steering sweeps (below the comparison) can use it too.

Examples
--------
>>> def square(x, offset):
...     return x * x + offset
>>> [o.value for o in SerialExecutor().map(square, [1, 2, 3], shared={"offset": 1}, progress=False)]
[2, 5, 10]
"""

from __future__ import annotations

import os
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

__all__ = ["EXECUTORS", "RayExecutor", "SerialExecutor", "TaskOutcome", "get_executor", "raise_failures"]


@dataclass
class TaskOutcome:
    """What became of one task: its ``value``, or the ``error`` (``"Type: message"``) of its last attempt.

    Attributes
    ----------
    label : str
        The task's name (e.g. ``"dinm seed 0 record 12"``).
    value : Any
        The task's return value; None when it failed.
    error : str or None
        None when the task succeeded.
    attempts : int
        How many times it ran.
    """

    label: str
    value: Any = None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _check_retries(retries: Any) -> int:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")
    return retries


def _labels(items: Sequence[Any], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return [f"task {i}" for i in range(len(items))]
    if len(labels) != len(items):
        raise ValueError(f"labels: {len(labels)} labels for {len(items)} tasks")
    return [str(label) for label in labels]


def _warn_failures(outcomes: Sequence[TaskOutcome]) -> None:
    for o in outcomes:
        if not o.ok:
            first = (o.error or "").splitlines()[0]
            warnings.warn(f"task {o.label!r} failed after {o.attempts} attempt(s): {first} (the outcome's error "
                          "holds the traceback)", RuntimeWarning, stacklevel=3)


def raise_failures(outcomes: Sequence[TaskOutcome], what: str) -> None:
    """Raise ``RuntimeError`` naming every failed task of `outcomes` (for callers that cannot
    go on without all of them)."""
    failed = [f"{o.label!r} ({(o.error or '').splitlines()[0]})" for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"{what}: {len(failed)} task(s) failed: {'; '.join(failed)}")


class SerialExecutor:
    """Run each task in this process, in order.

    Parameters
    ----------
    retries : int, default=0
        Extra attempts for a task that raises (a deterministic task fails the same way again:
        retries help with flaky resources, not with bugs).
    """

    name = "serial"

    def __init__(self, retries: int = 0) -> None:
        self.retries = _check_retries(retries)

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Mapping[str, Any] | None = None,
            labels: Sequence[str] | None = None, desc: str = "tasks", progress: bool = True) -> list[TaskOutcome]:
        """``fn(item, **shared)`` for every item; one :class:`TaskOutcome` per item, in order.

        A task that still raises after its retries is reported (and warned about), not raised.
        ``KeyboardInterrupt`` stops the map."""
        names = _labels(items, labels)
        outcomes = []
        for item, label in tqdm(list(zip(items, names)), desc=desc, disable=not progress):
            for attempt in range(1, self.retries + 2):
                try:
                    outcome = TaskOutcome(label, fn(item, **(shared or {})), attempts=attempt)
                    break
                except Exception as exc:  # noqa: BLE001 - reported in the outcome, as Ray does
                    outcome = TaskOutcome(label, error=_describe(exc), attempts=attempt)
                    last_traceback = traceback.format_exc()
            if not outcome.ok:
                outcome.error = f"{outcome.error}\n{last_traceback}"
            outcomes.append(outcome)
        _warn_failures(outcomes)
        return outcomes


def _run_task(fn: Callable[..., Any], item: Any, shared: Mapping[str, Any]) -> Any:
    """The body of a Ray task: at the module level so that workers import it by name."""
    return fn(item, **shared)


class RayExecutor:
    """Send each task to a Ray cluster (the optional extra ``detox-interp[ray]``).

    Connects to the cluster at ``address`` (default: ``RAY_ADDRESS`` when set), else starts a
    local one with ``num_workers`` CPUs; a running ``ray.init()`` of the caller's is used as it
    is. The shared arguments go once into the object store; each task asks for ``num_cpus`` and
    ``num_gpus`` (a task's torch then uses ``num_cpus`` threads: Ray sets ``OMP_NUM_THREADS``).

    Parameters
    ----------
    num_workers : int, optional
        CPUs of a local cluster (default: all of this machine's).
    num_cpus, num_gpus : float, default=1, 0
        Resources of each task. Shared models keep their device: a model on ``cuda:0`` in the
        caller lands on ``cuda:0`` of its worker, which is the GPU Ray assigned to the task (Ray
        sets ``CUDA_VISIBLE_DEVICES``); give CUDA models ``num_gpus`` > 0.
    retries : int, default=1
        Extra attempts of a task that raises or whose worker dies.
    address : str, optional
        A cluster to connect to (``"auto"``, ``"ray://host:10001"``, ...).
    """

    name = "ray"

    def __init__(self, num_workers: int | None = None, *, num_cpus: float = 1, num_gpus: float = 0,
                 retries: int = 1, address: str | None = None) -> None:
        for field_name, value, minimum in (("num_cpus", num_cpus, 0), ("num_gpus", num_gpus, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
                raise ValueError(f"{field_name} must be a number >= {minimum}, got {value!r}")
        if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, int)
                                        or num_workers < 1):
            raise ValueError(f"num_workers must be a positive int, got {num_workers!r}")
        self.num_workers, self.num_cpus, self.num_gpus = num_workers, num_cpus, num_gpus
        self.retries, self.address = _check_retries(retries), address
        self._started = False

    def start(self) -> Any:
        """Connect to the cluster, or start the local one, now (:meth:`map` does it on first use);
        returns the ``ray`` module."""
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - the extra is installed for the tests
            raise ImportError("executor='ray' needs Ray: pip install 'detox-interp[ray]'") from exc
        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS")
            opts: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                    "configure_logging": True, "logging_level": "ERROR"}
            if address:
                ray.init(address=address, **opts)
            else:
                ray.init(num_cpus=self.num_workers or os.cpu_count(), **opts)
                self._started = True
        return ray

    def shutdown(self) -> None:
        """Stop the local cluster this executor started (a cluster it connected to keeps running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *, shared: Mapping[str, Any] | None = None,
            labels: Sequence[str] | None = None, desc: str = "tasks", progress: bool = True) -> list[TaskOutcome]:
        """``fn(item, **shared)`` for every item as Ray tasks; outcomes in item order.

        `fn` must be importable by the workers (a function of an installed module) or picklable
        by value; `shared` is put into the object store once for all tasks."""
        ray = self.start()
        names = _labels(items, labels)
        shared_ref = ray.put(dict(shared or {}))
        # retried here, not by Ray's max_retries: the outcome then says how many attempts it took
        remote = ray.remote(_run_task).options(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)
        task: dict[Any, tuple[int, int]] = {}  # ref -> (item index, attempt)
        for i, item in enumerate(items):
            task[remote.remote(fn, item, shared_ref)] = (i, 1)
        outcomes: list[TaskOutcome | None] = [None] * len(items)
        pending = list(task)
        with tqdm(total=len(items), desc=desc, disable=not progress) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                i, attempt = task.pop(done[0])
                try:
                    outcomes[i] = TaskOutcome(names[i], ray.get(done[0]), attempts=attempt)
                except Exception as exc:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, ...
                    if attempt <= self.retries:
                        ref = remote.remote(fn, items[i], shared_ref)
                        task[ref] = (i, attempt + 1)
                        pending.append(ref)
                        continue
                    cause = getattr(exc, "cause", None) or exc
                    outcomes[i] = TaskOutcome(names[i], error=f"{_describe(cause)}\n{exc}", attempts=attempt)
                bar.update(1)
        _warn_failures(outcomes)  # type: ignore[arg-type]
        return outcomes  # type: ignore[return-value]


#: Executors by the name callers pass as ``executor=``.
EXECUTORS: dict[str, type] = {"serial": SerialExecutor, "ray": RayExecutor}


def get_executor(executor: str | SerialExecutor | RayExecutor | None) -> SerialExecutor | RayExecutor:
    """The executor named `executor` (``"serial"`` or ``"ray"``; None: serial), or `executor` itself
    when it already is one (any object with a ``map`` method of :class:`SerialExecutor`'s signature)."""
    if executor is None:
        return SerialExecutor()
    if isinstance(executor, str):
        if executor not in EXECUTORS:
            raise ValueError(f"executor {executor!r} is unknown; valid: {sorted(EXECUTORS)} or an executor object")
        return EXECUTORS[executor]()
    if not callable(getattr(executor, "map", None)):
        raise TypeError(f"executor must be 'serial', 'ray' or an object with a .map method, "
                        f"got {type(executor).__name__}")
    return executor
