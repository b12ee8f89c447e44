"""Lifecycle events: the worker announces, subscribers (the journal, logging,
metrics, sd_notify) listen. A subscriber that raises is logged and ignored:
it must never take the worker down -- except a ``critical`` one (the journal
writer), whose failure is the emitter's to handle: a state that did not reach
the journal must not be reported as reached."""

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
# One event per outcome of a job, each with ``outcome`` (daemon.outcomes.Outcome):
JOB_FINISHED = "job_finished"  # output written; the publish step is next (a checkpoint)
JOB_DONE = "job_done"          # finished (and published when Shopify is on)
JOB_HELD = "job_held"          # waits for a person: the cut-out, or which product
JOB_RETRYING = "job_retrying"  # a transient failure: tried again later
JOB_QUARANTINED = "job_quarantined"  # a bad photo, set aside with its reason
JOB_FORGOTTEN = "job_forgotten"  # the original changed before it settled: its new bytes come back
JOB_GROUPED = "job_grouped"    # measured; waits for its product's other views (compose.scale: product)
OUTCOMES = (JOB_FINISHED, JOB_DONE, JOB_HELD, JOB_RETRYING, JOB_QUARANTINED, JOB_FORGOTTEN, JOB_GROUPED)
DECISION = "decision"          # job_id, action (approve | reject | redo), actor, ok, message
CONFIDENCE = "confidence"      # job_id, confidence, verdict (publish | review)
QUEUE_DEPTH = "queue_depth"    # depth
STOPPING = "stopping"          # -
RELOADING = "reloading"        # - (SIGHUP: reading the config again)
RELOADED = "reloaded"          # segmenter, provider (the reload applied or refused: running again)
THROTTLE = "throttle"          # available, maximum (Shopify cost points in the bucket)
RETRY = "retry"                # operation, attempt, delay (a transient failure retried)


class Events:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self._critical: dict[str, list[Listener]] = {}
        self._lock = threading.Lock()
        self._log = structlog.get_logger("events")

    def subscribe(self, name: str, listener: Listener, *, critical: bool = False) -> None:
        """Call ``listener(**fields)`` on every ``name``. Critical listeners run
        first, in order, and what they raise reaches the emitter (and the
        other listeners are not told)."""
        with self._lock:
            (self._critical if critical else self._listeners).setdefault(name, []).append(listener)

    def emit(self, name: str, **fields: Any) -> None:
        with self._lock:
            critical = list(self._critical.get(name, ()))
            listeners = list(self._listeners.get(name, ()))
        for listener in critical:
            listener(**fields)
        for listener in listeners:
            try:
                listener(**fields)
            except Exception:
                self._log.exception("event listener failed", event_name=name,
                                    listener=getattr(listener, "__qualname__", repr(listener)))
