"""Truly simultaneous requests: threads released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(callables: list[Callable[[], object]], timeout: float = 30) -> list[object]:
    """Run every callable in its own thread, all released at the same instant by a barrier;
    return their results in order (an exception raised is returned as the result)."""
    barrier = threading.Barrier(len(callables))
    results: list[object] = [None] * len(callables)

    def run(index: int, job: Callable[[], object]) -> None:
        barrier.wait(timeout)
        try:
            results[index] = job()
        except Exception as exc:  # noqa: BLE001 (the test inspects it)
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results
