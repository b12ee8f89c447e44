"""The worker in-process: outcomes per error type, the publish step, checkpoints,
the output layout and the memory bound. Fake segmenter, finish and publisher;
real journal, real files."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from daemon.config import parse_config
from daemon.events import JOB_DONE, Events
from daemon.journal import Journal
from daemon.worker import NeedsReview, OutputUnavailable, Published, Superseded, Worker, backoff, safe_name, verdict
from integrations.shopify.errors import PermanentError, TransientError
from pipeline.errors import NotAnImage, TruncatedImage
from tests.daemon_helpers import photo_bytes, wait_for


class FakeSegmenter:
    name = "fake"

    def __init__(self):
        self.live = 0
        self.peak = 0
        self.lock = threading.Lock()

    def segment(self, rgb):
        with self.lock:
            self.live += 1
            self.peak = max(self.peak, self.live)
        time.sleep(0.01)
        with self.lock:
            self.live -= 1
        return SimpleNamespace(alpha=np.ones(rgb.shape[:2], np.float32))


class FakeFinish:
    def __init__(self):
        self.calls = 0

    def __call__(self, photo, segmentation, profile, fields):
        self.calls += 1
        return SimpleNamespace(encoded=b"JPEG:" + fields.get("product", "").encode(), extension="jpg",
                               timings={"encode": 1.0})


class FakePublisher:
    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []

    def publish(self, request, ids):
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else "ok"
        if isinstance(answer, BaseException):
            raise answer
        if answer == "review":
            return NeedsReview("no product with that SKU", candidates=[])
        ids.put("media_id", f"media-{request.job_id}")
        return Published(product_id="p", media_id=f"media-{request.job_id}")


@pytest.fixture
def setup(tmp_path):
    config = parse_config({"watch": {"paths": ["inbox"], "settle_seconds": 0.1},
                           "workers": {"max_in_memory": 2, "max_attempts": 3, "retry_base_seconds": 0.05,
                                       "retry_max_seconds": 0.1}}, base=tmp_path)
    journal = Journal(tmp_path / "state" / "journal.sqlite")
    yield SimpleNamespace(config=config, journal=journal, tmp=tmp_path, inbox=tmp_path / "inbox")
    journal.close()


def start(s, publisher=None, finish=None, segmenter=None):
    s.finish = finish or FakeFinish()
    s.segmenter = segmenter or FakeSegmenter()
    s.events = Events()
    worker = Worker(s.config, s.journal, s.segmenter, s.events, publisher=publisher, finish=s.finish,
                    poll_seconds=0.05)
    worker.start()
    return worker


def add(s, rel, data=None, product="p1", view="Front", index=1):
    import hashlib

    path = s.inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    data = photo_bytes(64, 64, seed=hash(rel) % 1000) if data is None else data
    path.write_bytes(data)
    job, _ = s.journal.add(hashlib.sha256(data).hexdigest(), path, root=s.inbox, rel=rel, category="default",
                           product_key=product, view=view, index=index,
                           fields={"product": product, "title": product, "view": view})
    return job


def state_of(s, job):
    return s.journal.get(job.id).state


def test_without_a_publisher_a_job_is_done_once_its_output_is_written(setup):
    s = setup
    worker = start(s)
    done = []
    s.events.subscribe(JOB_DONE, lambda **f: done.append(f))
    job = add(s, "a/x.jpg", product="Canon r5 #816")
    wait_for(lambda: state_of(s, job) == "done", 10)
    got = s.journal.get(job.id)
    assert got.output == str(s.tmp / "outbox" / "default" / "Canon r5 #816" / "x.jpg")
    assert Path(got.output).read_bytes() == b"JPEG:Canon r5 #816"
    assert set(got.timings) >= {"load", "segment", "finish", "finish.encode"}
    assert done and done[0]["job_id"] == job.id
    assert worker.stop(5)


def test_the_publish_step_gets_the_request_and_stores_remote_ids(setup):
    s = setup
    publisher = FakePublisher(["ok"])
    worker = start(s, publisher)
    job = add(s, "x.jpg", product="048459373763", view="FrontView", index=2)
    wait_for(lambda: state_of(s, job) == "done", 10)
    request = publisher.requests[0]
    assert (int(request.job_id), request.category, request.product_key, request.view, request.index) == (
        job.id, "default", "048459373763", "FrontView", 2)
    assert request.image_path.read_bytes() == b"JPEG:048459373763"
    assert request.fields["view"] == "FrontView" and request.params.lookup == "sku"
    assert s.journal.remote_ids(job.id).get("media_id") == f"media-{job.id}"
    worker.stop(5)


def test_a_transient_publish_error_retries_only_the_publish_step(setup):
    s = setup
    publisher = FakePublisher([TransientError("timeout"), "ok"])
    worker = start(s, publisher)
    job = add(s, "x.jpg")
    wait_for(lambda: state_of(s, job) == "done", 10)
    assert len(publisher.requests) == 2 and s.finish.calls == 1
    assert s.journal.get(job.id).attempts == 1
    worker.stop(5)


def test_needs_review_then_link_requeues_only_the_publish_step(setup):
    s = setup
    publisher = FakePublisher(["review", "ok"])
    worker = start(s, publisher)
    job = add(s, "x.jpg")
    wait_for(lambda: state_of(s, job) == "needs_review", 10)
    assert "no product" in s.journal.get(job.id).error
    s.journal.remote_ids(job.id).put("product_id", "gid://shopify/Product/9")  # what `booth link` does
    s.journal.requeue(job.id, stage="publish")
    worker.wake()
    wait_for(lambda: state_of(s, job) == "done", 10)
    assert s.finish.calls == 1 and len(publisher.requests) == 2
    worker.stop(5)


def test_a_permanent_publish_error_needs_review(setup):
    s = setup
    worker = start(s, FakePublisher([PermanentError("access denied")]))
    job = add(s, "x.jpg")
    wait_for(lambda: state_of(s, job) == "needs_review", 10)
    assert (s.inbox / "x.jpg").exists()
    worker.stop(5)


def test_transient_failures_are_retried_then_quarantined_with_a_note(setup):
    s = setup

    def always_full(*args):
        raise OSError(28, "No space left on device")

    worker = start(s, finish=always_full)
    job = add(s, "sub/x.jpg")
    kept = s.config.quarantine / "sub" / "x.jpg"
    wait_for(lambda: state_of(s, job) == "quarantined" and (kept.parent / "x.jpg.error.json").exists(), 10)
    got = s.journal.get(job.id)
    assert got.attempts == 3 and "No space" in got.error and got.quarantined_to == str(kept)
    assert kept.exists() and not (s.inbox / "sub" / "x.jpg").exists()
    note = json.loads((kept.parent / "x.jpg.error.json").read_text())
    assert note["job_id"] == job.id and note["error_type"] == "OSError" and note["attempts"] == 3
    worker.stop(5)


def test_a_bad_photo_is_quarantined_at_once(setup):
    s = setup
    worker = start(s)
    job = add(s, "bad.jpg", data=b"GIF89a nonsense")
    wait_for(lambda: state_of(s, job) == "quarantined", 10)
    assert s.journal.get(job.id).attempts == 1
    worker.stop(5)


def test_a_file_changed_after_intake_is_forgotten_and_handed_back(setup):
    s = setup
    handed_back = []
    s.finish = FakeFinish()
    worker = Worker(s.config, s.journal, FakeSegmenter(), Events(), finish=s.finish,
                    on_superseded=handed_back.append, poll_seconds=0.05)
    job = add(s, "x.jpg")
    (s.inbox / "x.jpg").write_bytes(photo_bytes(64, 64, seed=999))  # rewritten after it settled
    worker.start()
    wait_for(lambda: handed_back, 10)
    assert s.journal.get(job.id) is None and handed_back == [s.inbox / "x.jpg"]
    worker.stop(5)


def test_same_names_from_different_originals_are_kept_apart(setup):
    s = setup
    worker = start(s)
    a = add(s, "one/x.jpg", product="p")
    b = add(s, "two/x.jpg", product="p")
    wait_for(lambda: state_of(s, a) == state_of(s, b) == "done", 10)
    outputs = {s.journal.get(a.id).output, s.journal.get(b.id).output}
    assert {Path(o).name for o in outputs} == {"x.jpg", "x-2.jpg"}
    worker.stop(5)


def test_never_more_than_max_in_memory_photos_at_once(setup):
    s = setup
    segmenter = FakeSegmenter()
    live, peak, lock = [0], [0], threading.Lock()

    def finish(photo, segmentation, profile, fields):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.02)
        with lock:
            live[0] -= 1
        return SimpleNamespace(encoded=b"x", extension="jpg", timings={})

    worker = start(s, finish=finish, segmenter=segmenter)
    jobs = [add(s, f"m/{i}.jpg", product=f"p{i}") for i in range(12)]
    worker.wake()
    wait_for(lambda: all(state_of(s, j) == "done" for j in jobs), 20)
    assert segmenter.peak == 1  # one segmenter instance, never re-entered
    assert worker.queue_depth == 0 and peak[0] <= s.config.workers.max_in_memory
    worker.stop(5)


def test_stop_puts_unfinished_jobs_back_for_the_next_start(setup):
    s = setup
    gate = threading.Event()

    def stuck(*args):
        gate.wait(10)
        return SimpleNamespace(encoded=b"x", extension="jpg", timings={})

    worker = start(s, finish=stuck)
    job = add(s, "x.jpg")
    wait_for(lambda: state_of(s, job) == "processing", 10)
    assert worker.stop(timeout=0.3) is False
    assert state_of(s, job) == "waiting"
    gate.set()


@pytest.mark.parametrize("exc, attempts, expected", [
    (NotAnImage("x"), 1, "quarantine"),
    (TruncatedImage("x"), 1, "retry"),
    (TruncatedImage("x"), 2, "quarantine"),
    (OutputUnavailable("x"), 1, "retry"),
    (OSError("disk full"), 3, "quarantine"),
    (PermanentError("denied"), 1, "review"),
    (TransientError("timeout"), 1, "retry"),
    (TransientError("timeout"), 3, "quarantine"),
    (Superseded("changed"), 1, "forget"),
])
def test_the_verdict_reads_off_the_error_type(exc, attempts, expected):
    assert verdict(exc, attempts, max_attempts=3) == expected


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap():
    delays = [backoff(n, 1.0, 10.0) for n in range(1, 7)]
    assert 0.5 <= delays[0] <= 1.0 and 2.0 <= delays[2] <= 4.0
    assert all(5.0 <= d <= 10.0 for d in delays[4:])


@pytest.mark.parametrize("text, name", [
    ("Canon r5 #816", "Canon r5 #816"), ("a/b\\c", "a_b_c"), ("..", "_"), ("x: y?", "x_ y_"), ("", "_")])
def test_product_keys_become_safe_folder_names(text, name):
    assert safe_name(text) == name


def test_after_success_archive_moves_the_original_keeping_its_folders(setup):
    s = setup
    s.config = s.config.model_copy(update={"after_success": "archive"})
    worker = start(s)
    job = add(s, "UsedCameraGear/p/x.jpg")
    wait_for(lambda: state_of(s, job) == "done", 10)
    wait_for(lambda: (s.config.archive_dir / "UsedCameraGear" / "p" / "x.jpg").exists(), 5)
    assert not (s.inbox / "UsedCameraGear" / "p" / "x.jpg").exists()
    worker.stop(5)


# ----------------------------------------------------------------------- a reshoot under the same name

def _with(s, **settings):
    s.config = parse_config({"watch": {"paths": ["inbox"], "settle_seconds": 0.1},
                             "workers": {"max_in_memory": 2, "max_attempts": 3, "retry_base_seconds": 0.05,
                                         "retry_max_seconds": 0.1}, **settings}, base=s.tmp)
    return s


class ReshootDuringFinish(FakeFinish):
    """The booth saves a new version under the same name while the old one is being finished."""

    def __init__(self, path: Path, then=None):
        super().__init__()
        self.path, self.then, self.new = path, then, photo_bytes(64, 64, seed=999)

    def __call__(self, *args):
        self.path.write_bytes(self.new)
        if self.then is not None:
            raise self.then
        return super().__call__(*args)


@pytest.mark.parametrize("after_success", ["archive", "delete"])
def test_a_newer_version_saved_under_the_same_name_is_not_tidied_away(setup, after_success):
    s = _with(setup, after_success=after_success)
    path = s.inbox / "shoot" / "a.jpg"
    finish = ReshootDuringFinish(path)
    worker = start(s, finish=finish)
    job = add(s, "shoot/a.jpg")
    wait_for(lambda: state_of(s, job) == "done", 10)
    worker.stop(5)
    assert path.read_bytes() == finish.new  # the reshoot is still there for its own job
    assert not any(p.is_file() for p in (s.tmp / "archive").rglob("*"))


def test_a_bad_photo_replaced_by_a_reshoot_leaves_the_reshoot_in_place(setup):
    s = setup
    path = s.inbox / "b.jpg"
    finish = ReshootDuringFinish(path, then=NotAnImage("not a photo"))
    worker = start(s, finish=finish)
    job = add(s, "b.jpg")
    wait_for(lambda: state_of(s, job) == "quarantined"
             and list(s.config.quarantine.glob("*.error.json")), 10)
    worker.stop(5)
    assert path.read_bytes() == finish.new
    assert s.journal.get(job.id).quarantined_to is None
    note = json.loads(next(s.config.quarantine.glob("b.jpg.job*.error.json")).read_text())
    assert note["job_id"] == job.id and note["quarantined_to"] is None


def test_a_finished_job_run_again_without_its_original_keeps_its_record(setup):
    s = setup
    worker = start(s)
    job = add(s, "c.jpg")
    wait_for(lambda: state_of(s, job) == "done", 10)
    Path(job.path).unlink()
    assert s.journal.requeue(job.id)  # booth reprocess / retry
    wait_for(lambda: state_of(s, job) == "needs_review", 10)
    worker.stop(5)
    got = s.journal.get(job.id)
    assert "original is gone" in got.error and got.output and Path(got.output).exists()


def test_a_job_whose_final_state_write_failed_is_not_stuck_in_flight(setup, monkeypatch):
    import sqlite3

    from daemon import worker as worker_module

    monkeypatch.setattr(worker_module, "ORPHAN_CHECK_SECONDS", 0.2)
    s = setup
    real_set_state, failures = s.journal.set_state, []

    def full_disk_once(job_id, state, **kw):
        if state == "done" and not failures:
            failures.append(job_id)
            raise sqlite3.OperationalError("database or disk is full")
        return real_set_state(job_id, state, **kw)

    monkeypatch.setattr(s.journal, "set_state", full_disk_once)
    worker = start(s)
    job = add(s, "d.jpg")
    wait_for(lambda: state_of(s, job) == "done", 10)
    worker.stop(5)
    assert failures == [job.id] and s.finish.calls == 2  # run again, not left "processing" for good


def test_a_busy_journal_does_not_end_dispatching(setup, monkeypatch):
    import sqlite3

    s = setup
    real, raised = s.journal.next_retry_at, []

    def locked_once():
        if not raised:
            raised.append(1)
            raise sqlite3.OperationalError("database is locked")
        return real()

    monkeypatch.setattr(s.journal, "next_retry_at", locked_once)
    worker = start(s)
    wait_for(lambda: raised, 5)
    job = add(s, "e.jpg")
    wait_for(lambda: state_of(s, job) == "done", 10)
    assert worker.alive
    worker.stop(5)
