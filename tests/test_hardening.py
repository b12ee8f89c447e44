"""``booth run`` on hostile ground, end to end: a real daemon process, real
folders, real HTTP servers on 127.0.0.1. Each test asserts the end state:
nothing lost, nothing misfiled, nothing leaked."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from tests.daemon_helpers import Daemon, can_drop_privileges, photo_bytes, wait_for, write

needs_unprivileged = pytest.mark.skipif(not can_drop_privileges(),
                                        reason="cannot drop root's file-mode overrides here (setpriv)")
TOKEN = "shpat_0123456789abcdef0123456789abcdef"


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path, settle=0.3, watch={"root_check_seconds": 0.2})
    yield d
    d.stop()


def everything_written_or_printed(daemon: Daemon, *jobs: int) -> str:
    """Every byte the product keeps or shows: its log, the journal and its WAL,
    the health file, notes in quarantine, and what the commands print."""
    parts = [daemon.log_text()]
    for path in [*daemon.state.rglob("*"), *daemon.quarantine.rglob("*")]:
        if path.is_file():
            parts.append(path.read_bytes().decode("latin-1"))
    for args in [("status",), ("status", "--json"), ("jobs",), ("jobs", "--json"), ("shopify", "check"),
                 *[("job", str(j)) for j in jobs], *[("job", str(j), "--json") for j in jobs]]:
        done = daemon.booth(*args, env={"SHOPIFY_ACCESS_TOKEN": f"  {TOKEN}\n"})
        parts += [done.stdout, done.stderr]
    return "\n".join(parts)


# ----------------------------------------------------------------------- secrets

class _Echo(BaseHTTPRequestHandler):
    """A server that answers 400 and echoes the request back, headers and all."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        echo = f"Bad Request. You sent:\n{self.headers}\n{body.decode('latin-1')}".encode()
        self.send_response(400)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(echo)))
        self.end_headers()
        self.wfile.write(echo)

    def log_message(self, *args):
        pass


def test_the_shopify_token_never_leaves_the_process(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    daemon = Daemon(tmp_path, shopify={"enabled": True, "admin_url": url, "timeout": 3.0, "retry_initial": 0.05,
                                       "retry_max": 0.2})
    try:
        daemon.start(env={"SHOPIFY_ACCESS_TOKEN": f"  {TOKEN}\n"})  # pasted with blanks around it
        write(daemon.inbox / "CAM-1_Front_1.jpg", photo_bytes(seed=1))
        held = wait_for(lambda: daemon.jobs("needs_review"), 30, "the refused publish to need review")
        assert "400" in held[0]["error"]
        seen = everything_written_or_printed(daemon, held[0]["id"])
    finally:
        daemon.stop()
        server.shutdown()
    assert "400" in seen  # the error itself is there...
    for form in (TOKEN, TOKEN[6:], TOKEN[:-4]):
        assert form not in seen  # ...but no form of the token


# ----------------------------------------------------------------------- folder problems

def test_a_watch_folder_that_cannot_be_created_is_reported_and_retried_while_the_others_work(tmp_path):
    blocker = tmp_path / "share"
    blocker.write_text("not mounted yet: a file where the mount point will be")
    missing = blocker / "inbox"
    daemon = Daemon(tmp_path, settle=0.3, watch={"paths": [str(tmp_path / "inbox"), str(missing)],
                                                 "root_check_seconds": 0.2})
    try:
        daemon.start()
        assert daemon.proc.poll() is None
        assert "watch folder unusable" in daemon.log_text() and str(missing) in daemon.log_text()
        write(daemon.inbox / "a.jpg", photo_bytes(seed=2))
        daemon.wait_done(1)
        status = daemon.booth("status")
        assert "watch folder unusable" in status.stdout and str(missing) in status.stdout
        report = json.loads(daemon.booth("status", "--json").stdout)["daemon"]
        assert [r["ok"] for r in report["roots"]] == [True, False]
        blocker.unlink()  # the share appears
        wait_for(lambda: missing.is_dir() and "watch folder is back" in daemon.log_text(), 10, "the folder watched")
        write(missing / "b.jpg", photo_bytes(seed=3))
        daemon.wait_done(2)
    finally:
        daemon.stop()


def test_a_watch_root_that_vanishes_and_comes_back_gets_its_watch_back(daemon):
    import shutil

    daemon.start()
    shutil.rmtree(daemon.inbox)
    wait_for(lambda: daemon.log_text().count('"event": "watching"') >= 2, 10, "the watch placed again")
    write(daemon.inbox / "after.jpg", photo_bytes(seed=4))
    daemon.wait_done(1, timeout=10)  # far sooner than the 30 s rescan: the watch is back


# ----------------------------------------------------------------------- no photo silently stuck

def test_odd_names_and_formats_are_processed_or_reported_by_name(daemon):
    import pillow_heif

    daemon.start()
    latin1 = daemon.inbox / os.fsdecode(b"caf\xe9-Front_1.jpg")
    write(latin1, photo_bytes(seed=5))
    long_name = daemon.inbox / ("L" * 251 + ".jpg")  # 255 bytes: no room for a temp name beside it
    long_name.write_bytes(photo_bytes(seed=6))
    gif = io.BytesIO()
    Image.open(io.BytesIO(photo_bytes(seed=7))).convert("P").save(gif, "GIF")
    write(daemon.inbox / "pal.gif", gif.getvalue())
    heif = pillow_heif.from_pillow(Image.open(io.BytesIO(photo_bytes(seed=8))))
    heic = io.BytesIO()
    heif.save(heic, quality=90)
    write(daemon.inbox / "phone.heic", heic.getvalue())
    write(daemon.inbox / "IMG_0001.CR2", b"II*\x00 raw data")
    done = daemon.wait_done(4, timeout=60)
    assert len(done) == 4 and len(daemon.outputs()) == 4
    wait_for(lambda: "IMG_0001.CR2" in daemon.booth("status").stdout, 10, "the RAW file reported")
    status = daemon.booth("status").stdout
    assert "camera RAW" in status and "export JPEG" in status
    assert daemon.log_text().count("photo not taken") == 1  # once, not at every rescan


@needs_unprivileged
def test_an_unreadable_photo_is_reported_until_it_can_be_read(tmp_path):
    daemon = Daemon(tmp_path, settle=0.3, unprivileged=True, watch={"rescan_seconds": 1})
    try:
        daemon.start()
        photo = write(daemon.inbox / "locked.jpg", photo_bytes(seed=9))
        photo.chmod(0)
        os.utime(photo)
        wait_for(lambda: "locked.jpg" in daemon.booth("status").stdout, 20, "the unreadable photo reported")
        assert "cannot be read" in daemon.booth("status").stdout and not daemon.jobs()
        photo.chmod(0o644)
        daemon.wait_done(1, timeout=20)
        wait_for(lambda: "locked.jpg" not in daemon.booth("status").stdout, 20, "the report gone")
    finally:
        daemon.stop()


# ----------------------------------------------------------------------- an outage is not a bad photo

class _Forwarder:
    """A TCP port that refuses connections until ``open()``, then forwards them."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server = None

    def open(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self._server:
            self._server.close()


def test_shopify_unreachable_for_a_while_only_delays_publishing(tmp_path):
    from tests.fake_shopify import FakeShopify
    from tests.fake_shopify.testing import TOKEN as FAKE_TOKEN

    with FakeShopify() as fake:
        product = fake.store.add_product("Sony A7 IV", skus=["CAM-331"])
        link = _Forwarder(fake.url)
        daemon = Daemon(tmp_path, shopify={"enabled": True, "admin_url": f"http://127.0.0.1:{link.port}",
                                           "timeout": 2.0, "retry_initial": 0.05, "retry_max": 0.1,
                                           "max_retries": 1},
                        workers={"max_attempts": 2, "retry_base_seconds": 0.1, "retry_max_seconds": 0.5})
        try:
            daemon.start(env={"SHOPIFY_ACCESS_TOKEN": FAKE_TOKEN})
            write(daemon.inbox / "CAM-331_Front_1.jpg", photo_bytes(seed=10))
            wait_for(lambda: [j for j in daemon.jobs() if j["attempts"] >= 4], 30, "several failed publishes")
            assert not daemon.jobs("quarantined")
            wait_for(lambda: "cannot reach Shopify" in daemon.booth("status").stdout, 20,
                     "status to say why the job is waiting")
            link.open()
            daemon.wait_done(1, timeout=30)
        finally:
            daemon.stop()
            link.close()
    assert len(fake.store.media_filenames(product)) == 1


def test_an_unusable_output_folder_makes_jobs_wait_past_max_attempts_and_finish_once_it_is_back(tmp_path):
    daemon = Daemon(tmp_path, workers={"max_attempts": 2, "retry_base_seconds": 0.05, "retry_max_seconds": 0.2})
    daemon.outbox.write_text("a file where the output folder should be")
    try:
        daemon.start()
        write(daemon.inbox / "p" / "r.jpg", photo_bytes(seed=11))
        wait_for(lambda: [j for j in daemon.jobs() if j["attempts"] >= 5], 30, "retries past max_attempts")
        assert not daemon.jobs("quarantined") and (daemon.inbox / "p" / "r.jpg").exists()
        daemon.outbox.unlink()
        daemon.wait_done(1, timeout=30)
    finally:
        daemon.stop()


def test_a_writer_that_pauses_before_writing_does_not_get_its_photo_quarantined(tmp_path):
    import time

    daemon = Daemon(tmp_path, settle=0.3, watch={"empty_grace_seconds": 5})
    try:
        daemon.start()
        target = daemon.inbox / "slow-share.jpg"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT)  # opened, 0 bytes, for longer than the settle time
        time.sleep(1.5)  # the writer's pause is the scenario, not a synchronisation
        os.write(fd, photo_bytes(seed=12))
        os.close(fd)
        daemon.wait_done(1, timeout=30)
        assert not daemon.jobs("quarantined")
    finally:
        daemon.stop()


# ----------------------------------------------------------------------- memory bounded by bytes

def test_a_file_over_the_byte_cap_is_refused_with_its_reason(tmp_path):
    daemon = Daemon(tmp_path, categories={"default": {"load": {"max_bytes": 2_000_000}}})
    try:
        daemon.start()
        huge = daemon.inbox / "huge.jpg"
        with open(huge, "wb") as f:
            f.write(photo_bytes(seed=13))
            f.truncate(50_000_000)  # sparse: 50 MB on paper
        write(daemon.inbox / "ok.jpg", photo_bytes(seed=14))
        wait_for(lambda: daemon.jobs("quarantined"), 30, "the huge file quarantined")
        daemon.wait_done(1)
        assert "over the cap of 2,000,000 bytes" in daemon.jobs("quarantined")[0]["error"]
    finally:
        daemon.stop()


# ----------------------------------------------------------------------- a lost journal is loud

def test_a_lost_journal_refuses_to_start_until_rebuilt_and_nothing_is_done_twice(daemon):
    daemon.start()
    for i in range(2):
        write(daemon.inbox / "p" / f"{i}.jpg", photo_bytes(seed=20 + i))
    daemon.wait_done(2)
    daemon.stop()
    outputs = {p: p.stat().st_mtime_ns for p in daemon.outputs()}
    for path in daemon.state.glob("journal.sqlite3*"):
        path.unlink()
    proc = daemon.launch()
    assert proc.wait(60) == 1
    assert "journal" in daemon.log_text() and "--rebuild-journal" in daemon.log_text()
    write(daemon.inbox / "p" / "new.jpg", photo_bytes(seed=30))
    daemon.start(extra=("--rebuild-journal",))
    done = daemon.wait_done(3)
    assert len(done) == 3 and len(daemon.jobs()) == 3
    assert {p: p.stat().st_mtime_ns for p in daemon.outputs() if p.stem != "new"} == outputs  # not redone
    adopted = [j for j in done if "new" not in j["path"]]
    assert all(j["attempts"] == 0 for j in adopted)


# ----------------------------------------------------------------------- smaller ones

@needs_unprivileged
def test_a_bad_photo_in_a_read_only_folder_gets_a_note_and_no_copy_in_quarantine(tmp_path):
    daemon = Daemon(tmp_path, unprivileged=True)
    try:
        folder = daemon.inbox / "readonly"
        write(folder / "bad.jpg", b"this is not a photo at all" * 20)
        folder.chmod(0o555)
        daemon.start()
        wait_for(lambda: daemon.jobs("quarantined") and list(daemon.quarantine.rglob("*.error.json")), 30,
                 "the bad photo's note")
        assert (folder / "bad.jpg").exists()
        kept = [p for p in daemon.quarantine.rglob("*") if p.is_file() and not p.name.endswith(".error.json")]
        assert kept == []
        note = json.loads(next(daemon.quarantine.rglob("*.error.json")).read_text())
        assert note["left_in_place"].endswith("bad.jpg") and "not an image" in note["reason"]
    finally:
        daemon.stop()
        (daemon.inbox / "readonly").chmod(0o755)


def test_outputs_and_notes_follow_the_service_umask(tmp_path):
    daemon = Daemon(tmp_path, umask=0o027)
    try:
        daemon.start()
        write(daemon.inbox / "good.jpg", photo_bytes(seed=15))
        write(daemon.inbox / "bad.jpg", b"not a photo" * 30)
        daemon.wait_done(1)
        wait_for(lambda: list(daemon.quarantine.rglob("*.error.json")), 30, "the note")
    finally:
        daemon.stop()
    for path in [*daemon.outputs(), *daemon.quarantine.rglob("*.error.json")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


@needs_unprivileged
def test_status_with_a_state_folder_it_cannot_read_says_so_in_one_line(daemon):
    daemon.start()
    write(daemon.inbox / "a.jpg", photo_bytes(seed=16))
    daemon.wait_done(1)
    daemon.stop()
    daemon.unprivileged = True
    daemon.state.chmod(0o000)
    try:
        out = daemon.booth("status")
    finally:
        daemon.state.chmod(0o755)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "journal" in out.stderr and "fix:" in out.stderr


def test_a_reload_naming_an_unusable_watch_folder_keeps_the_daemon_and_the_other_folders_running(daemon, tmp_path):
    import signal

    daemon.start()
    blocker = tmp_path / "not-mounted"
    blocker.write_text("a file where a share will be mounted")
    daemon.settings["watch"]["paths"] = [str(daemon.inbox), str(blocker / "share")]
    daemon.write_config()
    daemon.send(signal.SIGHUP)
    wait_for(lambda: "config reloaded" in daemon.log_text(), 10, "the reload")
    assert daemon.proc.poll() is None and "watch folder unusable" in daemon.log_text()
    write(daemon.inbox / "after-reload.jpg", photo_bytes(seed=40))
    daemon.wait_done(1)
