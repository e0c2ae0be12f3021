"""The executor layer on its own: serial and Ray map the same tasks to the same outcomes, in
order; a task that raises is retried, then reported with its error, and the others are kept."""

from __future__ import annotations

import pytest

from interp.executors import RayExecutor, SerialExecutor, TaskOutcome, get_executor, raise_failures


def _square_or_fail(x: int, *, offset: int = 0) -> int:
    if x == 3:
        raise ValueError(f"item {x} is unlucky")
    return x * x + offset


class _Flaky:
    """Fails on its first call only (state lives in this process: serial executor only)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: int) -> int:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("transient")
        return x


def test_serial_keeps_order_reports_failures_and_warns():
    with pytest.warns(RuntimeWarning, match="'task 2' failed after 1 attempt"):
        out = SerialExecutor().map(_square_or_fail, [1, 2, 3, 4], shared={"offset": 1}, progress=False)
    assert [o.value for o in out] == [2, 5, None, 17]
    assert [o.ok for o in out] == [True, True, False, True]
    assert out[2].error.startswith("ValueError: item 3 is unlucky")
    with pytest.raises(RuntimeError, match="1 task\\(s\\) failed: 'task 2'"):
        raise_failures(out, "squares")


def test_serial_retries_a_flaky_task():
    flaky = _Flaky()
    out = SerialExecutor(retries=1).map(flaky, [7], labels=["seven"], progress=False)
    assert out == [TaskOutcome("seven", 7, None, attempts=2)]


@pytest.mark.parametrize("bad, match", [("dask", "unknown"), (42, "executor must be")])
def test_get_executor_names_what_is_valid(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        get_executor(bad)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="retries"):
        SerialExecutor(retries=-1)
    with pytest.raises(ValueError, match="num_gpus"):
        RayExecutor(num_gpus=-1)
    with pytest.raises(ValueError, match="labels"):
        SerialExecutor().map(_square_or_fail, [1, 2], labels=["a"], progress=False)
    assert isinstance(get_executor(None), SerialExecutor) and isinstance(get_executor("ray"), RayExecutor)
