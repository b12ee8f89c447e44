"""Intake: which names are candidates, network mounts, stability, the event handler."""

import time
from pathlib import Path

import pytest
from watchdog.events import DirCreatedEvent, FileClosedEvent, FileModifiedEvent, FileMovedEvent, FileOpenedEvent

from daemon.config import WatchConfig
from daemon.watch import Candidates, Settler, _Hints, is_network, looks_complete, scan
from tests.daemon_helpers import photo_bytes


@pytest.fixture
def candidates(tmp_path):
    return Candidates.of(WatchConfig(paths=[tmp_path / "inbox"]), excluded=[tmp_path / "outbox"])


@pytest.mark.parametrize("name, taken", [
    ("x.jpg", True), ("X.JPG", True), ("x.jpeg", True), ("x.png", True), ("x.tif", True), ("x.webp", True),
    (".x.jpg", False), ("._x.jpg", False), ("~x.jpg", False), ("x.jpg.part", False), ("x.tmp", False),
    ("Thumbs.db", False), (".DS_Store", False), ("x.txt", False), ("x.pdf", False), ("x", False),
])
def test_candidate_names(candidates, tmp_path, name, taken):
    assert candidates.accepts(tmp_path / "inbox" / name) is taken


def test_hidden_folders_and_excluded_folders_are_not_candidates(candidates, tmp_path):
    assert not candidates.accepts(tmp_path / "inbox" / ".sync" / "x.jpg")
    assert not candidates.accepts(tmp_path / "outbox" / "default" / "x.jpg")


def test_scan_finds_candidates_recursively(candidates, tmp_path):
    for rel in ("inbox/a.jpg", "inbox/deep/er/b.png", "inbox/c.txt", "inbox/.hidden/d.jpg", "inbox/e.jpg.part"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = sorted(p.relative_to(tmp_path / "inbox").as_posix() for p in scan(tmp_path / "inbox", candidates))
    assert found == ["a.jpg", "deep/er/b.png"]


def test_network_mounts_are_detected_from_the_mount_table(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n"
                      "//nas/booth /mnt/booth cifs rw 0 0\n"
                      "server:/export /mnt/nfs\\040share nfs4 rw 0 0\n")
    assert is_network(Path("/mnt/booth/Workfolder"), str(mounts)) == "cifs"
    assert is_network(Path("/mnt/nfs share/x"), str(mounts)) == "nfs4"
    assert is_network(Path("/home/booth"), str(mounts)) is None


def test_looks_complete_checks_the_file_end(tmp_path):
    data = photo_bytes(seed=1)
    whole, half = tmp_path / "w.jpg", tmp_path / "h.jpg"
    whole.write_bytes(data)
    half.write_bytes(data[: len(data) // 2])
    assert looks_complete(whole) and not looks_complete(half)
    png = tmp_path / "p.png"
    png.write_bytes(photo_bytes(seed=1, fmt="PNG"))
    assert looks_complete(png)


def _settler(settle):
    taken = []
    settler = Settler(settle, lambda path, size, mtime: taken.append((path, size)))
    settler.start()
    return settler, taken


def test_a_file_is_taken_only_after_it_stops_changing(tmp_path):
    settler, taken = _settler(0.4)
    path = tmp_path / "slow.jpg"
    start = time.monotonic()
    for i in range(6):
        with open(path, "ab") as f:
            f.write(b"x" * 1000)
        settler.hint(path)
        time.sleep(0.15)
    deadline = time.monotonic() + 3
    while not taken and time.monotonic() < deadline:
        time.sleep(0.02)
    settler.stop()
    assert taken == [(path, 6000)]
    assert time.monotonic() - start >= 5 * 0.15 + 0.35  # the last write + the settle time


def test_a_close_event_with_a_complete_end_shortens_the_wait(tmp_path):
    settler, taken = _settler(5.0)
    path = tmp_path / "a.jpg"
    path.write_bytes(photo_bytes(seed=2))
    start = time.monotonic()
    settler.hint(path, closed=True)
    while not taken and time.monotonic() - start < 3:
        time.sleep(0.01)
    settler.stop()
    assert taken and time.monotonic() - start < 1.0


def test_a_close_event_on_an_incomplete_file_waits_the_full_settle_time(tmp_path):
    settler, taken = _settler(0.8)
    path = tmp_path / "a.jpg"
    data = photo_bytes(seed=2)
    path.write_bytes(data[:-100])
    settler.hint(path, closed=True)
    time.sleep(0.4)
    assert not taken
    time.sleep(0.8)
    settler.stop()
    assert len(taken) == 1


def test_a_file_that_vanishes_while_settling_is_dropped(tmp_path):
    settler, taken = _settler(0.2)
    path = tmp_path / "gone.jpg"
    path.write_bytes(b"x")
    settler.hint(path)
    path.unlink()
    time.sleep(0.5)
    settler.stop()
    assert taken == [] and settler.pending == 0


def test_the_settler_thread_sleeps_when_nothing_is_pending(tmp_path):
    settler, _ = _settler(0.1)
    t0 = time.process_time()
    time.sleep(0.5)
    settler.stop()
    assert time.process_time() - t0 < 0.05


def test_the_event_handler_passes_hints_and_never_raises(tmp_path):
    files, folders = [], []

    def broken(path, closed):
        raise RuntimeError("a bug in intake")

    _Hints(broken, folders.append).dispatch(FileModifiedEvent(str(tmp_path / "a.jpg")))  # must not raise
    hints = _Hints(lambda p, closed: files.append((p.name, closed)), folders.append)
    hints.dispatch(FileOpenedEvent(str(tmp_path / "a.jpg")))  # our own reads: ignored
    hints.dispatch(FileClosedEvent(str(tmp_path / "a.jpg")))
    hints.dispatch(FileMovedEvent(str(tmp_path / "a.jpg.part"), str(tmp_path / "b.jpg")))
    hints.dispatch(DirCreatedEvent(str(tmp_path / "new")))
    assert files == [("a.jpg", True), ("b.jpg", False)]
    assert folders == [tmp_path / "new"]


def test_a_root_below_a_hidden_folder_still_takes_files(tmp_path):
    root = tmp_path / ".booth" / "inbox"
    candidates = Candidates.of(WatchConfig(paths=[root]))
    assert candidates.accepts(root / "a" / "x.jpg")
    assert not candidates.accepts(root / ".sync" / "x.jpg")


def test_an_inotify_queue_overflow_asks_for_a_rescan(tmp_path):
    import logging

    from daemon.watch import Watcher

    rescans = []
    watcher = Watcher([tmp_path], polling=False, poll_interval=1, on_file=lambda p, c: None,
                      on_folder=lambda p: None, on_overflow=lambda: rescans.append(1))
    watcher.start()
    try:
        assert watcher.alive
        logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
    finally:
        watcher.stop()
    assert rescans == [1]
