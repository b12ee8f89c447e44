"""An optional Prometheus endpoint, fed by the daemon's lifecycle events.

Off unless ``metrics.enabled``; bound to 127.0.0.1 by default (a scraper on
the same machine, or a tunnel, reads it). Every ``Metrics`` has its own
``CollectorRegistry``: nothing lands in prometheus_client's global one, so
several can live in one process (tests) and a restart of the endpoint never
meets a "Duplicated timeseries" error.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

from daemon import events as ev

# Stage times run from a few ms (decode of a small file) to tens of seconds (a
# model on CPU, a slow upload): the default buckets stop at 10 s.
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


class Metrics:
    """The daemon's metrics in a private registry, updated by event listeners."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.jobs = Counter("booth_jobs", "Jobs by state reached: queued, done, retrying "
                            "(a transient failure), failed (quarantined) or held (for a person)", ["state"],
                            registry=r)
        self.stage_seconds = Histogram("booth_stage_seconds", "Time spent in each pipeline stage",
                                       ["stage"], buckets=STAGE_BUCKETS, registry=r)
        self.job_seconds = Histogram("booth_job_seconds", "Time from the first stage to a finished image",
                                     buckets=JOB_BUCKETS, registry=r)
        self.queue_depth = Gauge("booth_queue_depth", "Photos waiting or in progress", registry=r)
        self.last_done = Gauge("booth_last_job_done_timestamp_seconds",
                               "Unix time the last image was finished", registry=r)
        self.throttle_available = Gauge("booth_shopify_throttle_available",
                                        "Shopify cost points currently available", registry=r)
        self.throttle_maximum = Gauge("booth_shopify_throttle_maximum",
                                      "Shopify cost bucket size", registry=r)
        self.retries = Counter("booth_retries", "Transient failures retried, by operation",
                               ["operation"], registry=r)
        self.model = Info("booth_model", "The segmenter and the execution provider it runs on", registry=r)
        self.ready = Gauge("booth_ready", "1 once the daemon is ready, 0 once it is stopping", registry=r)
        self.review_waiting = Gauge("booth_review_waiting", "Photos waiting for a person, by kind of review "
                                    "(cutout: look at the cut-out; product: no product matched)", ["kind"],
                                    registry=r)
        self.decisions = Counter("booth_review_decisions", "Review decisions taken, by action", ["action"],
                                 registry=r)
        self.confidence = Histogram("booth_cutout_confidence", "Confidence of each finished cut-out",
                                    buckets=CONFIDENCE_BUCKETS, registry=r)
        for action in ("approve", "reject", "redo"):
            self.decisions.labels(action)
        for kind in ("cutout", "product"):
            self.review_waiting.labels(kind)
        for state in ("queued", "done", "retrying", "failed", "held"):
            self.jobs.labels(state)  # present from the start, so rate() works on the first event

    def subscribe(self, events: ev.Events) -> None:
        events.subscribe(ev.READY, self.on_ready)
        events.subscribe(ev.JOB_QUEUED, lambda **_: self.jobs.labels("queued").inc())
        events.subscribe(ev.STAGE_DONE, self.on_stage_done)
        events.subscribe(ev.JOB_DONE, self.on_job_done)
        events.subscribe(ev.JOB_RETRYING, lambda **_: self.jobs.labels("retrying").inc())
        events.subscribe(ev.JOB_QUARANTINED, lambda **_: self.jobs.labels("failed").inc())
        events.subscribe(ev.JOB_HELD, lambda **_: self.jobs.labels("held").inc())
        events.subscribe(ev.DECISION, lambda action="", ok=False, **_: ok and self.decisions.labels(action).inc())
        events.subscribe(ev.CONFIDENCE, lambda confidence=0.0, **_: self.confidence.observe(confidence))
        events.subscribe(ev.QUEUE_DEPTH, lambda depth=0, **_: self.queue_depth.set(depth))
        events.subscribe(ev.THROTTLE, self.on_throttle)
        events.subscribe(ev.RETRY, lambda operation="unknown", **_: self.retries.labels(operation).inc())
        events.subscribe(ev.STOPPING, lambda **_: self.ready.set(0))
        events.subscribe(ev.RELOADED, self.on_ready)

    def on_ready(self, segmenter: Any = None, provider: Any = None, **_: Any) -> None:
        self.model.info({"segmenter": str(segmenter or "unknown"), "provider": str(provider or "none")})
        self.ready.set(1)

    def on_stage_done(self, stage: str = "unknown", ms: float = 0.0, **_: Any) -> None:
        self.stage_seconds.labels(stage).observe(ms / 1000)

    def on_job_done(self, outcome: Any = None, **_: Any) -> None:
        self.jobs.labels("done").inc()
        timings = outcome.timings if outcome is not None else {}
        self.job_seconds.observe(sum(v for k, v in timings.items() if "." not in k) / 1000)
        self.last_done.set_to_current_time()

    def watch_review(self, counts) -> None:
        """Read the photos waiting for review from ``counts()`` (kind -> n) at every scrape."""
        for kind in ("cutout", "product"):
            self.review_waiting.labels(kind).set_function(lambda kind=kind: _safe(counts).get(kind, 0))

    def on_throttle(self, available: float = 0.0, maximum: float = 0.0, **_: Any) -> None:
        self.throttle_available.set(available)
        self.throttle_maximum.set(maximum)


class MetricsHandle:
    """What ``start_metrics`` returns: the endpoint's address (None when off) and ``close``."""

    def __init__(self, metrics: Metrics | None = None, server: Any = None, thread: Any = None) -> None:
        self.metrics = metrics
        self._server = server
        self._thread = thread

    @property
    def address(self) -> tuple[str, int] | None:
        return self._server.server_address[:2] if self._server else None

    @property
    def url(self) -> str | None:
        return f"http://{self.address[0]}:{self.address[1]}/metrics" if self._server else None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


def _safe(counts) -> dict:
    try:
        return counts()
    except Exception:  # noqa: BLE001 - the journal closed while a scrape was running
        return {}


def start_metrics(config: Any, events: ev.Events, review_counts=None) -> MetricsHandle:
    """Serve ``config`` (a ``MetricsConfig``: enabled, host, port; port 0 picks a
    free one) and subscribe to ``events``; ``review_counts()`` gives the photos
    waiting for review by kind. Returns a handle; when metrics are off it serves
    nothing and ``close`` does nothing."""
    if not config.enabled:
        return MetricsHandle()
    metrics = Metrics()
    server, thread = start_http_server(config.port, addr=config.host, registry=metrics.registry)
    metrics.subscribe(events)
    if review_counts is not None:
        metrics.watch_review(review_counts)
    return MetricsHandle(metrics, server, thread)
