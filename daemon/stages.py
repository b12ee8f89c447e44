"""A small bounded staged executor: threads connected by bounded queues.

Each ``Stage`` runs ``workers`` threads that take the previous stage's output,
call ``fn`` on it and hand the result to the next stage. ``submit`` blocks while
``capacity`` items are in flight anywhere in the pipeline, which is the memory
bound (a decoded 4000x4000 photo is ~50 MB). Because stages overlap, the
throughput approaches that of the slowest stage, not the sum of all of them.

The item itself (a job, say) travels in a small envelope beside its payload, so
``on_done(item, result)`` and ``on_error(item, stage_name, exc)`` always know
what they are about; an error in one item never stops the pipeline.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import structlog

_STOP = object()
_log = structlog.get_logger("stages")


@dataclass(frozen=True)
class Stage:
    name: str
    fn: Callable[[Any], Any]  # takes the previous stage's output, returns the next stage's input
    workers: int = 1  # the segment stage runs with 1 (one model session per process)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"stage {self.name!r}: workers must be >= 1 (got {self.workers})")


@dataclass(frozen=True)
class _Envelope:
    item: Any
    payload: Any


class StagePipeline:
    """``submit(item)`` feeds ``item`` itself as the first stage's input."""

    def __init__(
        self,
        stages: Sequence[Stage],
        capacity: int,
        on_done: Callable[[Any, Any], None],
        on_error: Callable[[Any, str, BaseException], None],
    ) -> None:
        if not stages:
            raise ValueError("a pipeline needs at least one stage")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1 (got {capacity})")
        self._stages = tuple(stages)
        self._on_done = on_done
        self._on_error = on_error
        self._slots = threading.BoundedSemaphore(capacity)
        self._count_lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition(self._count_lock)
        self._closed = False
        # One queue in front of each stage; each holds at most `capacity` envelopes,
        # which it never exceeds anyway because of the semaphore.
        self._queues = [queue.Queue(maxsize=capacity) for _ in self._stages]
        self._threads: list[tuple[int, threading.Thread]] = []
        for index, stage in enumerate(self._stages):
            for n in range(stage.workers):
                thread = threading.Thread(
                    target=self._run, args=(index,), name=f"stage-{stage.name}-{n}", daemon=True
                )
                thread.start()
                self._threads.append((index, thread))

    # ------------------------------------------------------------------ public

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def alive(self) -> bool:
        """Every worker thread still running (false once closed)."""
        return all(t.is_alive() for _, t in self._threads)

    def submit(self, item: Any) -> None:
        if self._closed:
            raise RuntimeError("the pipeline is closed")
        self._slots.acquire()
        with self._count_lock:
            self._in_flight += 1
        self._queues[0].put(_Envelope(item, item))

    def try_submit(self, item: Any, timeout: float | None = None) -> bool:
        """Like ``submit`` but gives up after ``timeout`` seconds without a free slot."""
        if self._closed:
            raise RuntimeError("the pipeline is closed")
        if not self._slots.acquire(timeout=timeout):
            return False
        with self._count_lock:
            self._in_flight += 1
        self._queues[0].put(_Envelope(item, item))
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is in flight; True if that happened in time."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Stop intake, let in-flight items finish, join the threads.

        Returns True if everything drained within ``timeout``; otherwise the
        remaining (daemon) threads are left to die with the process."""
        self._closed = True
        drained = self.wait_idle(timeout)
        for index, stage in enumerate(self._stages):
            for _ in range(stage.workers):
                self._queues[index].put(_STOP)
        if drained:
            for _, thread in self._threads:
                thread.join(timeout=5)
        return drained

    # ------------------------------------------------------------------ workers

    def _run(self, index: int) -> None:
        stage = self._stages[index]
        inbox = self._queues[index]
        last = index == len(self._stages) - 1
        while True:
            envelope = inbox.get()
            if envelope is _STOP:
                return
            try:
                result = stage.fn(envelope.payload)
            except BaseException as exc:  # noqa: BLE001 - a failing item never stops the pipeline
                self._finish(envelope.item, lambda exc=exc: self._on_error(envelope.item, stage.name, exc))
                continue
            if last:
                self._finish(envelope.item, lambda: self._on_done(envelope.item, result))
            else:
                self._queues[index + 1].put(_Envelope(envelope.item, result))

    def _finish(self, item: Any, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # noqa: BLE001 - a broken callback must not kill a worker thread
            _log.exception("pipeline callback failed", item=repr(item)[:200])
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
            self._slots.release()
