"""The worker in-process: outcomes per error type, the publish step, checkpoints,
the output layout, the review gate and the memory bound. Fake segmenter, finish
and publisher; real runner, journal, files and confidence."""

from __future__ import annotations

import json
import threading
import zlib
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from daemon.config import parse_config
from daemon.errors import OutputUnavailable, Superseded, verdict
from daemon.events import JOB_DONE, Events
from daemon.files import safe_name
from daemon.journal import Journal
from daemon.runner import Runner, Segmenters
from daemon.worker import Worker, backoff
from integrations.shopify.errors import PermanentError, TransientError
from integrations.shopify.publish import NeedsReview, Published
from pipeline.errors import NotAnImage, SegmenterError, TruncatedImage
from pipeline.segment.base import Segmentation
from tests.conftest import encode_bytes
from tests.daemon_helpers import photo_bytes, wait_for

NO_REVIEW = {"default": {"review": {"mode": "never"}}}


class FakeSegmenter:
    name = "fake"

    def __init__(self):
        self.live = 0
        self.peak = 0
        self.calls = 0
        self.lock = threading.Lock()

    def segment(self, rgb):
        with self.lock:
            self.calls += 1
            self.live += 1
            self.peak = max(self.peak, self.live)
        time.sleep(0.01)  # long enough for two photos to meet here if the stage let them
        with self.lock:
            self.live -= 1
        alpha = np.zeros(rgb.shape[:2], np.float32)
        h, w = alpha.shape
        alpha[h // 4:3 * h // 4, w // 3:2 * w // 3] = 1.0
        return Segmentation(alpha=alpha)


class FakeFinish:
    def __init__(self):
        self.calls = 0

    def __call__(self, photo, segmentation, profile, fields):
        self.calls += 1
        return result(b"JPEG:" + fields.get("product", "").encode())


def result(encoded: bytes):
    return SimpleNamespace(encoded=encoded, extension="jpg", timings={"encode": 1.0})


class FakePublisher:
    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []

    def publish(self, request, store):
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else "ok"
        if isinstance(answer, BaseException):
            raise answer
        if answer == "review":
            return NeedsReview("no product with that SKU", candidates=[])
        return Published(product_id="p", media_id=f"media-{request.job_id}")


@pytest.fixture
def setup(tmp_path):
    config = parse_config({"watch": {"paths": ["inbox"], "settle_seconds": 0.1},
                           "workers": {"max_in_memory": 2, "max_attempts": 3, "retry_base_seconds": 0.05,
                                       "retry_max_seconds": 0.1}, "categories": NO_REVIEW}, base=tmp_path)
    journal = Journal(tmp_path / "state" / "journal.sqlite")
    yield SimpleNamespace(config=config, journal=journal, tmp=tmp_path, inbox=tmp_path / "inbox")
    journal.close()


def runner(s, finish=None, segmenter=None) -> Runner:
    s.finish = finish or FakeFinish()
    s.segmenter = segmenter or FakeSegmenter()
    return Runner(s.config, Segmenters(s.config, built={"default": s.segmenter}), finish=s.finish)


def start(s, publisher=None, finish=None, segmenter=None, **kw):
    s.events = Events()
    worker = Worker(s.config, s.journal, runner(s, finish, segmenter), s.events, publisher=publisher,
                    poll_seconds=0.05, **kw)
    worker.start()
    return worker


def add(s, rel, data=None, product="p1", view="Front", index=1, category="default"):
    import hashlib

    path = s.inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    data = photo_bytes(64, 64, seed=zlib.crc32(rel.encode()) % 1000) if data is None else data
    path.write_bytes(data)
    job, _ = s.journal.add(hashlib.sha256(data).hexdigest(), path, root=s.inbox, rel=rel, category=category,
                           product_key=product, view=view, index=index,
                           fields={"product": product, "title": product, "view": view})
    return job


def plain_photo(level: int) -> bytes:
    """A 200 px JPEG of one flat grey: a dark one has no sweep, a light one is an empty sweep."""
    return encode_bytes(np.full((200, 200, 3), level, np.uint8))


def garbled_photo() -> bytes:
    """A 200 px JPEG of noise all over."""
    return encode_bytes(np.random.default_rng(5).integers(0, 256, (200, 200, 3), dtype=np.uint8))


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
    assert done and done[0]["outcome"].job_id == job.id
    assert worker.stop(5)


def test_the_publish_step_gets_the_request(setup):
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
    assert s.journal.get(job.id).state == "done"
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
    held = s.journal.get(job.id)
    assert "no product" in held.error and held.review_kind == "product" and held.output
    s.journal.requeue(job.id, stage="publish")  # what `booth link` does, after recording the product
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


def test_a_full_disk_never_quarantines_a_good_photo_it_waits_until_the_disk_is_back(setup):
    s = setup
    full = threading.Event()
    full.set()

    def disk_full_for_a_while(*args):
        if full.is_set():
            raise OSError(28, "No space left on device")
        return result(b"JPEG")

    worker = start(s, finish=disk_full_for_a_while)
    job = add(s, "sub/x.jpg")
    # Past workers.max_attempts (3): an outage is not a bad photo.
    wait_for(lambda: s.journal.get(job.id).attempts >= 5, 20)
    assert s.journal.get(job.id).state != "quarantined" and not s.config.quarantine.exists()
    assert "No space" in next(e.error for e in s.journal.history(job.id) if e.state == "retrying")
    full.clear()
    wait_for(lambda: state_of(s, job) == "done", 10)
    assert (s.inbox / "sub" / "x.jpg").exists()
    worker.stop(5)


def test_an_unexpected_error_is_retried_then_quarantined_with_a_note(setup):
    s = setup

    def a_bug(*args):
        raise ValueError("operands could not be broadcast together")

    worker = start(s, finish=a_bug)
    job = add(s, "sub/x.jpg")
    kept = s.config.quarantine / "sub" / "x.jpg"
    wait_for(lambda: state_of(s, job) == "quarantined" and (kept.parent / "x.jpg.error.json").exists(), 10)
    got = s.journal.get(job.id)
    assert got.attempts == 3 and "broadcast" in got.error and got.quarantined_to == str(kept)
    assert kept.exists() and not (s.inbox / "sub" / "x.jpg").exists()
    note = json.loads((kept.parent / "x.jpg.error.json").read_text())
    assert note["job_id"] == job.id and note["error_type"] == "ValueError" and note["attempts"] == 3
    worker.stop(5)


def test_a_bad_photo_is_quarantined_at_once(setup):
    s = setup
    worker = start(s)
    job = add(s, "bad.jpg", data=b"GIF89a nonsense")
    wait_for(lambda: state_of(s, job) == "quarantined", 10)
    assert s.journal.get(job.id).attempts == 1
    worker.stop(5)


@pytest.mark.parametrize("data, reason", [(plain_photo(20), "no sweep: the photo's border is not a light sweep"),
                                           (garbled_photo(), "no sweep: the photo's border is textured all over"),
                                           (plain_photo(245), "no product: the segmenter found no product")])
def test_a_photo_that_cannot_be_cut_out_is_quarantined_at_once_with_the_answer(setup, data, reason):
    from pipeline.segment.white_studio import WhiteStudioSegmenter

    s = setup
    worker = start(s, segmenter=WhiteStudioSegmenter())
    job = add(s, "x.jpg", data=data)
    wait_for(lambda: state_of(s, job) == "quarantined", 10)
    got = s.journal.get(job.id)
    assert got.attempts == 1 and got.error.startswith(reason) and s.finish.calls == 0
    worker.stop(5)


def test_a_file_changed_after_intake_is_forgotten_and_handed_back(setup):
    s = setup
    handed_back = []
    worker = Worker(s.config, s.journal, runner(s), Events(), on_superseded=handed_back.append, poll_seconds=0.05)
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
        time.sleep(0.02)  # long enough for the stages to overlap if the bound let them
        with lock:
            live[0] -= 1
        return result(b"x")

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
        return result(b"x")

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
    (OutputUnavailable("x"), 1, "wait"),
    (OutputUnavailable("x"), 300, "wait"),
    (OSError("disk full"), 3, "wait"),
    (PermissionError(13, "denied"), 99, "wait"),
    (SegmenterError("CUDA out of memory"), 9, "wait"),
    (PermanentError("denied"), 1, "review"),
    (TransientError("timeout"), 1, "wait"),
    (TransientError("timeout"), 50, "wait"),
    (ValueError("a bug"), 1, "retry"),
    (ValueError("a bug"), 3, "quarantine"),
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
                                         "retry_max_seconds": 0.1}, "categories": NO_REVIEW, **settings},
                            base=s.tmp)
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


# ----------------------------------------------------------------------- hostile names and sizes

def test_a_name_that_is_not_utf8_is_processed_under_its_real_name(setup):
    import hashlib
    import os

    s = setup
    worker = start(s)
    raw = os.fsdecode(b"caf\xe9 #12-Front-JPEG-1.jpg")
    path = s.inbox / raw
    s.inbox.mkdir(parents=True, exist_ok=True)
    data = photo_bytes(64, 64, seed=7)
    path.write_bytes(data)
    job, _ = s.journal.add(hashlib.sha256(data).hexdigest(), path, root=s.inbox, rel=raw, category="default",
                           product_key="cafe", fields={"product": "cafe"})
    wait_for(lambda: state_of(s, job) == "done", 10)
    got = s.journal.get(job.id)
    assert got.path.endswith("caf\\xe9 #12-Front-JPEG-1.jpg") and got.file == path
    assert Path(got.output).name == "caf\\xe9 #12-Front-JPEG-1.jpg"
    worker.stop(5)


def test_a_photo_with_a_name_near_the_limit_is_finished_and_a_bad_one_gets_its_note(setup):
    s = setup
    worker = start(s)
    long_good = add(s, "p/" + "g" * 250 + ".jpg")
    long_bad = add(s, "p/" + "b" * 250 + ".jpg", data=b"not a photo at all, just text" * 10)
    # The journal learns of the quarantine before the note is written: the end state includes the note.
    wait_for(lambda: state_of(s, long_good) == "done" and state_of(s, long_bad) == "quarantined"
             and list(s.config.quarantine.rglob("*.error.json")), 10)
    notes = list(s.config.quarantine.rglob("*.error.json"))
    assert len(notes) == 1 and json.loads(notes[0].read_text())["job_id"] == long_bad.id
    assert Path(s.journal.get(long_good.id).output).is_file()
    worker.stop(5)


def test_a_file_over_the_byte_cap_is_refused_before_it_is_read(setup):
    s = _with(setup, categories={"default": {"review": {"mode": "never"}, "load": {"max_bytes": 100_000}}})
    worker = start(s)
    job = add(s, "huge.jpg", data=photo_bytes(64, 64, seed=3) + b"\0" * 200_000)
    wait_for(lambda: state_of(s, job) == "quarantined", 10)
    assert "over the cap of 100,000 bytes" in s.journal.get(job.id).error
    assert s.finish.calls == 0
    worker.stop(5)


# ----------------------------------------------------------------------- the review gate

def _gated(s, mode="always"):
    return _with(s, categories={"default": {"review": {"mode": mode}}})


def test_a_held_cut_out_is_finished_but_not_published_until_approved(setup):
    from daemon.review import ReviewDesk

    s = _gated(setup)
    publisher = FakePublisher([])
    worker = start(s, publisher)
    job = add(s, "x.jpg")
    wait_for(lambda: state_of(s, job) == "needs_review", 10)
    held = s.journal.get(job.id)
    assert held.review_kind == "cutout" and held.output and Path(held.output).is_file()
    assert held.confidence is not None and held.reasons and "always" in held.error
    assert publisher.requests == []
    desk = ReviewDesk(s.config, s.journal, wake=worker.wake)
    first, again = desk.approve([job.id, job.id], "tester")
    assert first.ok and not again.ok and "no longer waiting" in again.message
    wait_for(lambda: state_of(s, job) == "done", 10)
    assert len(publisher.requests) == 1 and s.finish.calls == 1  # published once, not run again
    assert [e.actor for e in s.journal.history(job.id) if e.note == "approved"] == ["tester"]
    assert not desk.approve([job.id], "tester")[0].ok
    worker.stop(5)


def test_a_rejected_cut_out_never_reaches_the_shop(setup):
    from daemon.review import ReviewDesk

    s = _gated(setup)
    publisher = FakePublisher([])
    worker = start(s, publisher)
    job = add(s, "x.jpg")
    wait_for(lambda: state_of(s, job) == "needs_review", 10)
    desk = ReviewDesk(s.config, s.journal, wake=worker.wake)
    assert not desk.reject([job.id], "  ", "tester")[0].ok  # a reason is needed
    decision = desk.reject([job.id], "the strap is cut off", "tester")[0]
    assert decision.ok
    got = s.journal.get(job.id)
    assert got.state == "rejected" and "the strap is cut off" in got.error
    assert not Path(got.output).is_relative_to(s.config.output.dir) and Path(got.output).is_file()
    assert not desk.approve([job.id], "tester")[0].ok
    worker.wake()
    worker.stop(5)
    assert publisher.requests == []


def test_redo_runs_again_with_the_changed_settings_and_comes_back_for_review(setup):
    from daemon.review import ReviewDesk

    s = _gated(setup, mode="never")
    seen = []

    class Recording(FakeFinish):
        def __call__(self, photo, segmentation, profile, fields):
            seen.append(profile.refine.choke_px)
            return super().__call__(photo, segmentation, profile, fields)

    worker = start(s, finish=Recording())
    job = add(s, "x.jpg")
    wait_for(lambda: state_of(s, job) == "done", 10)
    first_output = Path(s.journal.get(job.id).output).read_bytes()
    desk = ReviewDesk(s.config, s.journal, wake=worker.wake)
    bad = desk.redo(job.id, {"refine.choke_px": "lots"}, "tester")
    assert not bad.ok and "choke_px" in bad.message
    assert not desk.redo(job.id, {"nonsense.key": "1"}, "tester").ok
    decision = desk.redo(job.id, {"refine.choke_px": "2.5"}, "tester")
    assert decision.ok, decision.message
    wait_for(lambda: state_of(s, job) == "needs_review", 10)
    got = s.journal.get(job.id)
    assert seen == [0.0, 2.5] and got.overrides == {"refine.choke_px": "2.5"} and got.review_kind == "cutout"
    kept = [e.detail["kept"] for e in s.journal.history(job.id) if e.detail.get("kept")]
    assert len(kept) == 1 and Path(kept[0]).read_bytes() == first_output  # the previous image is kept
    worker.stop(5)


def test_a_category_cuts_out_with_its_own_segmenter(setup):
    s = _with(setup, segmenters={"model": {"name": "u2net", "path": "models/u2net.onnx", "providers": ["cpu"]}},
              categories={"default": {"review": {"mode": "never"}}, "accessories": {"segmenter": "model"}})
    default_cut, model_cut = FakeSegmenter(), FakeSegmenter()
    s.events = Events()
    run = Runner(s.config, Segmenters(s.config, built={"default": default_cut, "model": model_cut}),
                 finish=FakeFinish())
    worker = Worker(s.config, s.journal, run, s.events, poll_seconds=0.05)
    worker.start()
    plain = add(s, "a.jpg")
    strap = add(s, "b.jpg", product="b", category="accessories")
    wait_for(lambda: state_of(s, plain) == state_of(s, strap) == "done", 10)
    worker.stop(5)
    assert run.plan("accessories").segmenter == "model" and run.plan(None).segmenter == "default"
    assert default_cut.calls == 1 and model_cut.calls == 1
