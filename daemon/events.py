"""Lifecycle events: the worker announces, subscribers (logging, metrics,
journal, sd_notify) listen. A subscriber that raises is logged and ignored:
it must never take the worker down."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

Listener = Callable[..., None]

# Event names the daemon emits, with the fields each carries.
READY = "ready"                # segmenter, provider, watched paths
JOB_QUEUED = "job_queued"      # job_id, path
STAGE_DONE = "stage_done"      # job_id, stage, ms
JOB_DONE = "job_done"          # job_id, path, output, ms (dict of stage -> ms)
JOB_FAILED = "job_failed"      # job_id, path, error, permanent (bool), attempt
QUEUE_DEPTH = "queue_depth"    # depth
STOPPING = "stopping"          # -
RELOADING = "reloading"        # - (SIGHUP: reading the config again)
RELOADED = "reloaded"          # segmenter, provider (the reload applied or refused: running again)
THROTTLE = "throttle"          # available, maximum (Shopify cost points in the bucket)
RETRY = "retry"                # operation, attempt, delay (a transient failure retried)


class Events:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._lock = threading.Lock()
        self._log = structlog.get_logger("events")

    def subscribe(self, name: str, listener: Listener) -> None:
        with self._lock:
            self._listeners.setdefault(name, []).append(listener)

    def emit(self, name: str, **fields: Any) -> None:
        with self._lock:
            listeners = list(self._listeners.get(name, ()))
        for listener in listeners:
            try:
                listener(**fields)
            except Exception:
                self._log.exception("event listener failed", event_name=name,
                                    listener=getattr(listener, "__qualname__", repr(listener)))
