"""What the benchmarks measure about a process besides their own figures."""

from __future__ import annotations

import threading

import psutil


def sample_process(process: psutil.Process, samples: dict, stop: threading.Event) -> None:
    """Record the peak RSS of ``process`` in ``samples["rss"]`` every 0.2 s until ``stop`` is set."""
    while not stop.wait(0.2):
        try:
            samples["rss"] = max(samples.get("rss", 0), process.memory_info().rss)
        except psutil.NoSuchProcess:
            return
