"""``booth run`` end to end: a real daemon process, real watchdog, real files,
the real pipeline. Each test states one behaviour and checks end states (the
journal, the output folder, the quarantine folder, the exit status)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.daemon_helpers import Daemon, cpu_seconds, photo_bytes, wait_for, write


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    d.stop()


def by_path(jobs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for job in jobs:
        out.setdefault(job["path"], []).append(job)
    return out


def test_files_present_at_start_renamed_into_place_or_in_new_folders_are_each_processed_once(daemon, tmp_path):
    write(daemon.inbox / "early.jpg", photo_bytes(seed=1))  # arrived while the daemon was down
    daemon.start()
    part = daemon.inbox / "ren" / "shot.jpg.part"  # written under a temporary name, then renamed
    part.parent.mkdir()
    part.write_bytes(photo_bytes(seed=2))
    time.sleep(0.3)
    part.rename(part.with_name("shot.jpg"))
    staged = tmp_path / "staging" / "Lenses"  # a whole folder moved in at once
    for i in range(3):
        write(staged / f"l{i}.jpg", photo_bytes(seed=10 + i))
    shutil.move(str(staged), str(daemon.inbox / "Lenses"))
    fresh = daemon.inbox / "new" / "deeper"  # a new folder, files written right after mkdir
    fresh.mkdir(parents=True)
    for i in range(3):
        (fresh / f"n{i}.jpg").write_bytes(photo_bytes(seed=20 + i))

    done = daemon.wait_done(8, timeout=60)
    time.sleep(1.0)
    jobs = daemon.jobs()
    assert len(done) == len(jobs) == 8
    assert all(len(v) == 1 for v in by_path(jobs).values())
    assert not any(j["path"].endswith(".part") for j in jobs)
    names = sorted(p.relative_to(daemon.outbox).as_posix() for p in daemon.outputs())
    assert names == sorted(["default/early/early.jpg", "default/ren/shot.jpg",
                            *(f"default/Lenses/l{i}.jpg" for i in range(3)),
                            *(f"default/deeper/n{i}.jpg" for i in range(3))])


def test_the_same_bytes_again_are_not_reprocessed_but_new_bytes_are_a_new_version(daemon, tmp_path):
    daemon.start()
    source = tmp_path / "a.jpg"
    source.write_bytes(photo_bytes(seed=3))
    target = daemon.inbox / "p" / "a.jpg"
    target.parent.mkdir()
    shutil.copy(source, target)
    daemon.wait_done(1)
    first_output = daemon.outputs()[0].read_bytes()
    shutil.copy(source, target)  # the same file copied again
    shutil.copy(source, target.with_name("a copy.jpg"))  # and under another name for the same product
    wait_for(lambda: len(daemon.jobs()) == 2, 10, "the copy recorded")
    time.sleep(daemon.settings["watch"]["settle_seconds"] * 2 + 0.5)
    jobs = daemon.jobs()
    assert len(jobs) == 2 and jobs[1]["duplicate_of"] == jobs[0]["id"] and jobs[1]["state"] == "done"
    assert len(daemon.outputs()) == 1  # a duplicate is not finished (or published) twice

    write(target, photo_bytes(seed=4))  # replaced with new content
    wait_for(lambda: len(daemon.jobs("done")) == 3, 30, "the new version done")
    versions = [j for j in daemon.jobs("done") if j["path"] == str(target)]
    assert len(versions) == 2 and versions[0]["sha256"] != versions[1]["sha256"]
    outputs = daemon.outputs()
    assert len(outputs) == 1 and outputs[0].read_bytes() != first_output  # the new version replaced it


@pytest.mark.slow
def test_a_burst_of_200_photos_is_processed_exactly_once(daemon):
    daemon.start()
    for i in range(200):
        write(daemon.inbox / f"batch/{i:03d}.jpg", photo_bytes(seed=100 + i))
    done = daemon.wait_done(200, timeout=180)
    assert len(done) == len(daemon.jobs()) == 200
    assert len(daemon.outputs()) == 200


def test_bad_files_are_quarantined_with_their_reason_while_good_files_flow(tmp_path):
    daemon = Daemon(tmp_path, categories={"default": {"load": {"max_pixels": 1_000_000}}})
    try:
        daemon.start()
        good = photo_bytes(seed=5)
        bad = {
            "zero.jpg": b"",
            "truncated.jpg": good[: len(good) // 2],
            "notes.jpg": b"%PDF-1.4 this is a document, not a photo\n" * 20,  # wrong extension
            "huge.png": photo_bytes(1200, 1000, seed=6, fmt="PNG"),
        }
        for name, data in bad.items():
            write(daemon.inbox / "bad" / name, data)
        for i in range(3):
            write(daemon.inbox / "good" / f"g{i}.jpg", photo_bytes(seed=30 + i))
        (daemon.inbox / "good" / "readme.txt").write_text("not a photo extension: never touched")

        wait_for(lambda: len(daemon.jobs("quarantined")) == 4
                 and len(list(daemon.quarantine.rglob("*.error.json"))) == 4, 60, "4 quarantined with notes")
        daemon.wait_done(3)
        reasons = {Path(j["path"]).name: j["error"] for j in daemon.jobs("quarantined")}
        assert "empty" in reasons["zero.jpg"]
        assert "truncated" in reasons["truncated.jpg"]
        assert "not an image" in reasons["notes.jpg"]
        assert "pixels" in reasons["huge.png"]
        for name, data in bad.items():
            kept = daemon.quarantine / "bad" / name
            assert kept.read_bytes() == data  # never deleted, never altered
            note = json.loads(kept.with_name(name + ".error.json").read_text())
            assert note["reason"] == reasons[name] and note["job_id"] and note["time"]
        assert (daemon.inbox / "good" / "readme.txt").exists()
        assert len(daemon.jobs()) == 7
    finally:
        daemon.stop()


def test_sigterm_during_work_exits_cleanly_and_a_restart_finishes_the_rest(daemon):
    daemon.start()
    for i in range(30):
        write(daemon.inbox / "t" / f"{i:02d}.jpg", photo_bytes(600, 600, seed=200 + i))
    wait_for(lambda: daemon.jobs("done"), 60, "a first finished job")
    start = time.monotonic()
    assert daemon.stop(signal.SIGTERM, timeout=30) == 0
    assert time.monotonic() - start < daemon.settings["workers"]["shutdown_timeout"] + 5
    states = {j["state"] for j in daemon.jobs()}
    assert states <= {"done", "waiting"}, states  # nothing left half-way
    daemon.start()
    daemon.wait_done(30, timeout=90)
    assert len(daemon.jobs()) == 30 and len(daemon.outputs()) == 30


def test_sighup_with_a_broken_config_keeps_running_on_the_old_one(daemon):
    daemon.start()
    good_config = daemon.config_path.read_text()
    daemon.write_config(good_config + "\nwatchh: {}\n")
    daemon.send(signal.SIGHUP)
    wait_for(lambda: "config reload failed" in daemon.log_text(), 10, "the reload to be refused")
    assert "watchh" in daemon.log_text()
    write(daemon.inbox / "after.jpg", photo_bytes(seed=7))
    daemon.wait_done(1)
    daemon.write_config(good_config)
    daemon.send(signal.SIGHUP)
    wait_for(lambda: "config reloaded" in daemon.log_text(), 10, "a valid reload")
    assert daemon.proc.poll() is None


@pytest.mark.slow
def test_an_idle_daemon_uses_almost_no_cpu(daemon):
    daemon.start()
    write(daemon.inbox / "one.jpg", photo_bytes(seed=8))
    daemon.wait_done(1)
    time.sleep(1.0)
    before, t0 = cpu_seconds(daemon.proc.pid), time.monotonic()
    time.sleep(10)
    used = cpu_seconds(daemon.proc.pid) - before
    share = used / (time.monotonic() - t0)
    assert share < 0.01, f"idle daemon used {share:.1%} CPU"
    assert len(daemon.jobs()) == 1  # its own reads of the file did not cause more work


def test_status_jobs_retry_and_reprocess_commands(daemon):
    daemon.start()
    write(daemon.inbox / "s" / "ok.jpg", photo_bytes(seed=9))
    write(daemon.inbox / "s" / "bad.jpg", b"not an image at all")
    daemon.wait_done(1)
    wait_for(lambda: daemon.jobs("quarantined") and list(daemon.quarantine.rglob("*.error.json")), 30,
             "the bad file quarantined")

    status = json.loads(daemon.booth("status", "--json").stdout)
    assert status["counts"]["done"] == 1 and status["counts"]["quarantined"] == 1
    assert status["daemon"]["running"] and status["daemon"]["observer_alive"]
    assert status["done_last_hour"] == 1 and status["last_failures"][0]["state"] == "quarantined"
    assert "bad.jpg" in daemon.booth("jobs", "--state", "quarantined").stdout

    bad = daemon.jobs("quarantined")[0]
    first_note = Path(bad["quarantined_to"] + ".error.json")
    assert first_note.exists()
    assert daemon.booth("retry", "--quarantined").returncode == 0
    # The original went back to the inbox and ran again (fresh attempts) under the same
    # job; it failed the same way, so it is in quarantine again with a new reason file
    # and the first one kept beside it.
    again = wait_for(lambda: (lambda j: j if j["state"] == "quarantined" and j["attempts"] == 1
                              and j["updated_at"] > bad["updated_at"]
                              and Path(j["quarantined_to"] + ".error.json").exists() else None)(
        next(j for j in daemon.jobs() if j["id"] == bad["id"])), 30, "the retried job quarantined again")
    assert len(daemon.jobs()) == 2  # no new job for the same bytes
    assert Path(again["quarantined_to"]).read_bytes() == b"not an image at all"
    assert Path(again["quarantined_to"] + ".error.json").exists()
    assert first_note.with_name(first_note.name + ".retried").exists()
    assert not (daemon.inbox / "s" / "bad.jpg").exists()

    done = daemon.jobs("done")[0]
    out = daemon.booth("reprocess", str(daemon.inbox / "s" / "ok.jpg"))
    assert out.returncode == 0, out.stderr
    wait_for(lambda: (lambda j: j["state"] == "done" and j["updated_at"] > done["updated_at"])(
        next(j for j in daemon.jobs() if j["id"] == done["id"])), 30, "the reprocessed job done again")


@pytest.mark.slow
def test_a_4000px_photo_written_in_chunks_over_seconds_is_processed_once_from_the_complete_file(tmp_path):
    daemon = Daemon(tmp_path, settle=1.0)  # pauses between chunks (0.3 s) stay well inside it
    try:
        _write_in_chunks_and_check(daemon)
    finally:
        daemon.stop()


def _write_in_chunks_and_check(daemon):
    daemon.start()
    data = photo_bytes(4000, 4000, seed=11)
    target = daemon.inbox / "big" / "Canon r5 #816-Front-JPEG-1.jpg"
    target.parent.mkdir()
    chunks = 12
    step = len(data) // chunks + 1

    def writer():
        for i in range(chunks):  # reopen for every chunk: close events arrive mid-file
            with open(target, "ab") as f:
                f.write(data[i * step:(i + 1) * step])
                f.flush()
                os.fsync(f.fileno())
            time.sleep(0.3)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    done = daemon.wait_done(1, timeout=60)
    time.sleep(1.5)
    jobs = daemon.jobs()
    assert len(jobs) == 1 and jobs[0]["state"] == "done"
    assert jobs[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert len(daemon.outputs()) == 1 and done[0]["output"]
    assert daemon.log_text().count('"event": "job queued"') == 1  # never taken half-written


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_processes_every_photo_exactly_once(daemon):
    daemon.start()
    count = 60
    for i in range(count):
        write(daemon.inbox / "k" / f"{i:02d}.jpg", photo_bytes(500, 500, seed=300 + i))
    wait_for(lambda: len(daemon.jobs("done")) >= 3, 60, "a few finished jobs", every=0.02)
    daemon.kill()
    assert len(daemon.jobs("done")) < count
    daemon.start()
    daemon.wait_done(count, timeout=120)
    jobs = daemon.jobs()
    assert len(jobs) == count and all(len(v) == 1 for v in by_path(jobs).values())
    assert len(daemon.outputs()) == count
    assert not [p for p in daemon.outbox.rglob(".*.tmp")]  # no half-written leftovers


def test_the_polling_observer_is_used_where_asked(tmp_path):
    daemon = Daemon(tmp_path, watch={"polling": True, "poll_interval": 0.3})
    try:
        daemon.start()
        assert '"observer": "polling"' in daemon.log_text()
        write(daemon.inbox / "share" / "p.jpg", photo_bytes(seed=12))
        daemon.wait_done(1, timeout=30)
    finally:
        daemon.stop()


def test_with_shopify_on_each_photo_is_published_once_and_an_unmatched_one_needs_review(tmp_path):
    from tests.fake_shopify import FakeShopify
    from tests.fake_shopify.testing import TOKEN

    with FakeShopify() as fake:
        product = fake.store.add_product("Sony A7 IV", skus=["CAM-331"])
        daemon = Daemon(tmp_path, shopify={"enabled": True, "admin_url": fake.url, "timeout": 5.0,
                                           "retry_initial": 0.05, "retry_max": 0.2, "poll_interval": 0.02})
        try:
            daemon.start(env={"SHOPIFY_ACCESS_TOKEN": TOKEN})
            write(daemon.inbox / "CAM-331_Front_1.jpg", photo_bytes(seed=50))
            write(daemon.inbox / "CAM-331_Back_2.jpg", photo_bytes(seed=51))
            write(daemon.inbox / "NOPE-404_Front_1.jpg", photo_bytes(seed=52))
            done = daemon.wait_done(2, timeout=60)
            review = wait_for(lambda: daemon.jobs("needs_review"), 30, "the unmatched photo to need review")
        finally:
            daemon.stop()
        assert len(fake.store.media_filenames(product)) == 2
        for job in done:
            remote = json.loads(job["remote"])
            assert remote["product_id"] == product.id and remote["file_id"]
        assert "NOPE-404" in review[0]["path"] and review[0]["output"]


def test_sighup_swaps_in_a_new_segmenter_and_refuses_one_that_cannot_load(daemon, tmp_path):
    from pipeline.segment.contracts import builtin_contract
    from tests.onnx_builders import mask_model

    daemon.start()
    status = lambda: json.loads(daemon.booth("status", "--json").stdout)["daemon"]  # noqa: E731
    assert status()["segmenter"] == "white-studio"

    model = mask_model(builtin_contract("u2net"), tmp_path / "cut.onnx")
    daemon.settings["segmenter"] = {"name": "custom", "path": str(model), "contract": "u2net",
                                    "providers": ["cpu"]}
    daemon.write_config()
    daemon.send(signal.SIGHUP)
    wait_for(lambda: "segmenter changed" in daemon.log_text(), 30, "the new segmenter in use")
    assert (status()["segmenter"], status()["provider"]) == ("custom", "CPUExecutionProvider")
    write(daemon.inbox / "after-swap.jpg", photo_bytes(seed=12))
    daemon.wait_done(1)

    # A model file that is not a model: the reload is refused whole and the
    # daemon keeps cutting out with the model it has.
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an ONNX graph")
    daemon.settings["segmenter"]["path"] = str(broken)
    daemon.settings["categories"]["default"]["encode"]["format"] = "png"  # must not apply either
    daemon.write_config()
    daemon.send(signal.SIGHUP)
    wait_for(lambda: "the new segmenter cannot run" in daemon.log_text(), 30, "the reload to be refused")
    assert "broken.onnx" in daemon.log_text()
    write(daemon.inbox / "after-refusal.jpg", photo_bytes(seed=13))
    daemon.wait_done(2)
    assert daemon.proc.poll() is None and status()["segmenter"] == "custom"
    assert all(p.suffix == ".jpg" for p in daemon.outputs())
