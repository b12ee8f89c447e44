"""Intake: which names are candidates, network mounts, stability, the event handler."""

import os
import shutil
import threading
from pathlib import Path

import pytest
from watchdog.events import DirCreatedEvent, FileClosedEvent, FileModifiedEvent, FileMovedEvent, FileOpenedEvent

from daemon.config import WatchConfig
from daemon.watch import Candidates, Settler, Take, Watcher, _Hints, looks_complete, scan
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


def test_looks_complete_checks_the_file_end(tmp_path):
    data = photo_bytes(seed=1)
    whole, half = tmp_path / "w.jpg", tmp_path / "h.jpg"
    whole.write_bytes(data)
    half.write_bytes(data[: len(data) // 2])
    assert looks_complete(whole) and not looks_complete(half)
    png = tmp_path / "p.png"
    png.write_bytes(photo_bytes(seed=1, fmt="PNG"))
    assert looks_complete(png)


class Clock:
    """The settler's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _settler(settle, **kw):
    taken, clock = [], Clock()
    settler = Settler(settle, lambda path, size, mtime: taken.append((path, size)), clock=clock, **kw)
    return settler, taken, clock


def _write(path, data, mtime_ns):
    with open(path, "ab") as f:
        f.write(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))  # a distinct stamp per write, whatever the filesystem's resolution


def test_a_file_is_taken_only_after_it_stops_changing(tmp_path):
    settler, taken, clock = _settler(0.4)
    path = tmp_path / "slow.jpg"
    for i in range(6):
        _write(path, b"x" * 1000, 10**9 * (i + 1))
        settler.hint(path)
        clock.advance(0.15)
        settler.run_due()
    assert taken == []  # still being written
    clock.advance(0.4)
    settler.run_due()
    assert taken == [(path, 6000)]


def test_a_close_event_with_a_complete_end_shortens_the_wait(tmp_path):
    settler, taken, clock = _settler(5.0)
    path = tmp_path / "a.jpg"
    path.write_bytes(photo_bytes(seed=2))
    settler.hint(path, closed=True)
    clock.advance(0.1)
    settler.run_due()
    assert len(taken) == 1


def test_a_close_event_on_an_incomplete_file_waits_the_full_settle_time(tmp_path):
    settler, taken, clock = _settler(0.8)
    path = tmp_path / "a.jpg"
    path.write_bytes(photo_bytes(seed=2)[:-100])
    settler.hint(path, closed=True)
    clock.advance(0.4)
    settler.run_due()
    assert not taken
    clock.advance(0.4)
    settler.run_due()
    assert len(taken) == 1


def test_an_empty_file_waits_the_empty_grace_before_it_counts(tmp_path):
    settler, taken, clock = _settler(0.5, empty_grace=10.0)
    path = tmp_path / "opened.jpg"
    path.write_bytes(b"")  # a writer opened it and paused
    settler.hint(path, closed=True)
    clock.advance(5.0)
    settler.run_due()
    assert taken == []
    path.write_bytes(photo_bytes(seed=3))  # then wrote the photo
    os.utime(path, ns=(7 * 10**9, 7 * 10**9))
    settler.hint(path)
    clock.advance(0.5)
    settler.run_due()
    assert taken == [(path, path.stat().st_size)]
    empty = tmp_path / "really-empty.jpg"
    empty.write_bytes(b"")
    settler.hint(empty)
    clock.advance(9.9)
    settler.run_due()
    assert len(taken) == 1
    clock.advance(0.2)
    settler.run_due()
    assert taken[-1] == (empty, 0)  # empty past the grace: now it is taken (and quarantined as empty)


def test_a_file_that_vanishes_while_settling_is_dropped(tmp_path):
    settler, taken, clock = _settler(0.2)
    path = tmp_path / "gone.jpg"
    path.write_bytes(b"x")
    settler.hint(path)
    path.unlink()
    clock.advance(0.5)
    settler.run_due()
    assert taken == [] and settler.pending == 0


def test_the_settler_thread_wakes_for_a_due_file(tmp_path):
    taken = threading.Event()
    settler = Settler(0.05, lambda path, size, mtime: taken.set())
    settler.start()
    try:
        path = tmp_path / "a.jpg"
        path.write_bytes(photo_bytes(seed=4))
        settler.hint(path)
        assert taken.wait(5)
    finally:
        settler.stop()
    assert not settler.alive


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


# ----------------------------------------------------------------------- what a file is

def test_photo_formats_booth_cannot_read_are_reported_not_ignored(candidates, tmp_path):
    raw = candidates.classify(tmp_path / "inbox" / "IMG_0001.CR2")
    assert raw.take is Take.REPORT and "RAW" in raw.reason and "export JPEG" in raw.fix
    assert candidates.classify(tmp_path / "inbox" / "notes.txt").take is Take.NO


def test_links_are_reported_unless_following_them_is_asked_for(tmp_path):
    root = tmp_path / "inbox"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "folder-link").symlink_to(outside)
    (root / "sub" / "real.jpg").write_bytes(b"x")
    reports = []
    refused = Candidates.of(WatchConfig(paths=[root]))
    found = list(scan(root, refused, on_report=lambda p, d: reports.append((p.name, d.kind))))
    assert [p.name for p in found] == ["real.jpg"]
    assert sorted(reports) == [("folder-link", "link"), ("link.jpg", "link")]
    followed = Candidates.of(WatchConfig(paths=[root], follow_symlinks=True))
    assert sorted(p.name for p in scan(root, followed)) == ["link.jpg", "real.jpg", "secret.jpg"]


def test_an_unreadable_folder_is_reported(tmp_path, candidates):
    blocked = tmp_path / "inbox" / "blocked"
    blocked.mkdir(parents=True)
    reports = []
    real_scandir = os.scandir

    def refuse(path):
        if Path(path) == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    os.scandir = refuse
    try:
        list(scan(tmp_path / "inbox", candidates, on_report=lambda p, d: reports.append((p, d.kind))))
    finally:
        os.scandir = real_scandir
    assert reports == [(blocked, "folder")]


# ----------------------------------------------------------------------- watch roots

def _watcher(roots, seen, back=None):
    return Watcher(roots, polling=False, poll_interval=1, on_file=lambda p, c: seen.append(p.name),
                   on_folder=lambda p: None, on_root_back=(back or (lambda root: None)))


def _wait(predicate, timeout=10.0):
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        done.wait(0.05)
    return predicate()


def test_a_root_that_cannot_be_created_is_reported_while_the_others_are_watched(tmp_path):
    blocker = tmp_path / "share"
    blocker.write_text("a file where a mount point should be")
    good, bad = tmp_path / "inbox", blocker / "inbox"
    seen, back = [], []
    watcher = _watcher([good, bad], seen, back.append)
    watcher.start()
    try:
        states = {r.path: r for r in watcher.roots}
        assert states[good].ok and states[good].observer == "native"
        assert not states[bad].ok and states[bad].error and states[bad].observer is None
        (good / "a.jpg").write_bytes(b"x")
        assert _wait(lambda: "a.jpg" in seen)
        blocker.unlink()  # the share is mounted at last
        watcher.check()
        assert states[bad].ok and bad in back
        (bad / "b.jpg").write_bytes(b"x")
        assert _wait(lambda: "b.jpg" in seen)
    finally:
        watcher.stop()


def test_a_root_that_disappears_and_comes_back_is_watched_again(tmp_path):
    root = tmp_path / "inbox"
    seen = []
    watcher = _watcher([root], seen)
    watcher.start()
    try:
        shutil.rmtree(root)
        blocker_parent = root  # gone: the next check sees it missing, then recreates it (as on first start)
        state = watcher.roots[0]
        # A folder made again at once can reuse the old one's inode, so the identity alone cannot tell
        # it is new: the old watch ends when its emitter sees the folder go, and the daemon's periodic
        # check after that places the new one.
        assert _wait(lambda: not watcher._emitter_alive(state))
        watcher.check()
        assert state.ok and state.identity == (os.stat(root).st_dev, os.stat(root).st_ino)
        (blocker_parent / "after.jpg").write_bytes(b"x")
        assert _wait(lambda: "after.jpg" in seen)
    finally:
        watcher.stop()
