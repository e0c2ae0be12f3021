"""The peak resident memory of this process during a block (sampled every 2 ms with psutil).

    with PeakRSS() as mem:
        work()
    mem.start, mem.peak      # bytes: RSS when the block began, and its largest value inside it
"""

from __future__ import annotations

import threading
import time


class PeakRSS:
    """Context manager: ``start`` and ``peak`` resident set size (bytes) of this process."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval

    def __enter__(self) -> PeakRSS:
        import psutil

        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
