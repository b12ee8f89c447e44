"""The Prometheus endpoint, scraped over real HTTP on 127.0.0.1 after the
daemon's lifecycle events."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon import events as ev
from daemon.config import MetricsConfig
from daemon.metrics import start_metrics


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from a live endpoint."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def endpoint():
    events = ev.Events()
    handle = start_metrics(MetricsConfig(enabled=True, port=0), events)
    yield events, handle
    handle.close()


def outcome(event, job_id, path, **changes):
    from daemon.journal import Job
    from daemon.outcomes import Outcome

    job = Job(id=job_id, sha256="", path=path, root="", rel="", size=None, mtime_ns=None, state="processing",
              stage="load", attempts=0, next_attempt_at=0, created_at=0, updated_at=0, finished_at=None,
              timings={}, error=None, error_type=None, category=None, product_key=None, view=None, index=None,
              fields={}, output=None, quarantined_to=None, duplicate_of=None)
    return Outcome(event, job, None, changes=changes)


def test_endpoint_listens_on_loopback_only(endpoint):
    _events, handle = endpoint
    host, port = handle.address
    assert host == "127.0.0.1" and port > 0


def test_events_show_up_in_a_scrape(endpoint):
    events, handle = endpoint
    events.emit(ev.READY, segmenter="birefnet-general", provider="CUDAExecutionProvider", paths=["/srv/inbox"])
    events.emit(ev.JOB_QUEUED, job_id=1, path="/srv/inbox/a.jpg")
    events.emit(ev.JOB_QUEUED, job_id=2, path="/srv/inbox/b.jpg")
    events.emit(ev.QUEUE_DEPTH, depth=2)
    events.emit(ev.STAGE_DONE, job_id=1, stage="segment", ms=180.0)
    events.emit(ev.STAGE_DONE, job_id=1, stage="encode", ms=40.0)
    events.emit(ev.JOB_DONE, outcome=outcome(ev.JOB_DONE, 1, "/srv/inbox/a.jpg",
                                             timings={"segment": 180.0, "encode": 40.0, "finish.encode": 39.0}))
    events.emit(ev.JOB_RETRYING, outcome=outcome(ev.JOB_RETRYING, 2, "/srv/inbox/b.jpg", attempts=1))
    events.emit(ev.JOB_QUARANTINED, outcome=outcome(ev.JOB_QUARANTINED, 2, "/srv/inbox/b.jpg", attempts=2))
    events.emit(ev.JOB_HELD, outcome=outcome(ev.JOB_HELD, 3, "/srv/inbox/c.jpg"))
    events.emit(ev.CONFIDENCE, job_id=3, confidence=0.42, verdict="review")
    events.emit(ev.DECISION, job_id=3, action="approve", ok=True, message="approved")
    events.emit(ev.DECISION, job_id=3, action="approve", ok=False, message="no longer waiting")
    events.emit(ev.THROTTLE, available=940.0, maximum=1000.0)
    events.emit(ev.RETRY, operation="shopify", attempt=1, delay=2.0)
    events.emit(ev.QUEUE_DEPTH, depth=0)

    got = scrape(handle.url)

    assert got[("booth_jobs_total", (("state", "queued"),))] == 2
    assert got[("booth_jobs_total", (("state", "done"),))] == 1
    assert got[("booth_jobs_total", (("state", "retrying"),))] == 1
    assert got[("booth_jobs_total", (("state", "failed"),))] == 1
    assert got[("booth_stage_seconds_count", (("stage", "segment"),))] == 1
    assert got[("booth_stage_seconds_sum", (("stage", "segment"),))] == pytest.approx(0.18)
    assert got[("booth_stage_seconds_bucket", (("le", "0.25"), ("stage", "segment")))] == 1
    assert got[("booth_job_seconds_sum", ())] == pytest.approx(0.22)
    assert got[("booth_queue_depth", ())] == 0
    assert got[("booth_shopify_throttle_available", ())] == 940
    assert got[("booth_shopify_throttle_maximum", ())] == 1000
    assert got[("booth_retries_total", (("operation", "shopify"),))] == 1
    assert got[("booth_model_info", (("provider", "CUDAExecutionProvider"),
                                     ("segmenter", "birefnet-general")))] == 1
    assert got[("booth_ready", ())] == 1
    assert got[("booth_last_job_done_timestamp_seconds", ())] > 0
    assert got[("booth_jobs_total", (("state", "held"),))] == 1
    assert got[("booth_cutout_confidence_count", ())] == 1
    assert got[("booth_cutout_confidence_bucket", (("le", "0.5"),))] == 1
    assert got[("booth_cutout_confidence_bucket", (("le", "0.4"),))] == 0
    assert got[("booth_review_decisions_total", (("action", "approve"),))] == 1  # the refused one does not count


def test_photos_waiting_for_review_are_read_at_every_scrape():
    waiting = {"cutout": 2}
    handle = start_metrics(MetricsConfig(enabled=True, port=0), ev.Events(), review_counts=lambda: dict(waiting))
    try:
        assert scrape(handle.url)[("booth_review_waiting", (("kind", "cutout"),))] == 2
        waiting.update(cutout=0, product=1)
        got = scrape(handle.url)
        assert got[("booth_review_waiting", (("kind", "cutout"),))] == 0
        assert got[("booth_review_waiting", (("kind", "product"),))] == 1
    finally:
        handle.close()


def test_stopping_clears_ready(endpoint):
    events, handle = endpoint
    events.emit(ev.READY, segmenter="white-studio", provider=None)
    events.emit(ev.STOPPING)
    assert scrape(handle.url)[("booth_ready", ())] == 0


def test_a_reload_that_swaps_the_model_shows_the_new_one(endpoint):
    events, handle = endpoint
    events.emit(ev.READY, segmenter="white-studio", provider="cpu")
    events.emit(ev.RELOADED, segmenter="birefnet-general", provider="CUDAExecutionProvider")
    info = {k: v for k, v in scrape(handle.url).items() if k[0] == "booth_model_info"}
    assert info == {("booth_model_info", (("provider", "CUDAExecutionProvider"),
                                          ("segmenter", "birefnet-general"))): 1}


def test_two_endpoints_keep_their_own_numbers(endpoint):
    events, handle = endpoint
    other_events = ev.Events()
    other = start_metrics(MetricsConfig(enabled=True, port=0), other_events)
    try:
        events.emit(ev.QUEUE_DEPTH, depth=7)
        other_events.emit(ev.QUEUE_DEPTH, depth=3)
        assert scrape(handle.url)[("booth_queue_depth", ())] == 7
        assert scrape(other.url)[("booth_queue_depth", ())] == 3
    finally:
        other.close()


def test_disabled_metrics_serve_nothing():
    handle = start_metrics(MetricsConfig(), ev.Events())
    assert handle.url is None and handle.metrics is None
    handle.close()
