"""Watching the hot folders: observers, candidate filter, stability.

Filesystem events are hints, never the truth: an event only says "look at this
path soon". ``Settler`` then takes a file when its size and mtime have stayed
the same for ``settle_seconds`` (a close-after-write event with a complete
file end shortens the wait), and ``scan`` walks the whole tree at start and
periodically, so files that arrived while the daemon was down, or whose events
were lost, reach the same intake.

inotify sees nothing on network mounts, so a root on cifs/smb3/nfs (read from
the mount table) gets the polling observer, as does every root when
``watch.polling`` is set.
"""

from __future__ import annotations

import fnmatch
import heapq
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from daemon.logging import get_logger

NETWORK_FILESYSTEMS = {"cifs", "smb3", "smbfs", "nfs", "nfs4", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs",
                       "fuse.glusterfs", "davfs", "fuse.rclone"}

log = get_logger("watch")


# ----------------------------------------------------------------------- candidates

@dataclass(frozen=True)
class Candidates:
    """Which file names are photos to take: an image extension, nothing hidden or temporary."""

    extensions: frozenset[str]
    ignore: tuple[str, ...]
    excluded: tuple[Path, ...] = ()  # output, quarantine, archive, state: never taken even if inside a root
    roots: tuple[Path, ...] = ()  # hidden folders count only below these

    @classmethod
    def of(cls, watch, excluded: Iterable[Path] = ()) -> "Candidates":
        return cls(frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in watch.extensions),
                   tuple(p.lower() for p in watch.ignore), tuple(Path(p) for p in excluded),
                   tuple(Path(p) for p in watch.paths))

    def accepts(self, path: str | Path) -> bool:
        path = Path(path)
        name = path.name
        lower = name.lower()
        if any(fnmatch.fnmatchcase(lower, pattern) for pattern in self.ignore):
            return False
        if path.suffix.lower() not in self.extensions:
            return False
        if any(part.startswith(".") for part in self._folders_below_root(path)):
            return False  # inside a hidden folder (.sync, .Trash...)
        return not any(_inside(path, folder) for folder in self.excluded)

    def _folders_below_root(self, path: Path) -> tuple[str, ...]:
        for root in self.roots:
            if _inside(path, root):
                return path.relative_to(root).parts[:-1]
        return ()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def scan(root: Path, candidates: Candidates) -> Iterator[Path]:
    """Every candidate file under ``root``, recursively; unreadable folders are skipped."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith(".") and not any(
                            _inside(Path(entry.path), f) for f in candidates.excluded):
                        stack.append(Path(entry.path))
                elif entry.is_file() and candidates.accepts(entry.path):
                    yield Path(entry.path)
            except OSError:
                continue


# ----------------------------------------------------------------------- mounts

def filesystem_of(path: Path, mounts: str = "/proc/mounts") -> tuple[str, str] | None:
    """(mount point, filesystem type) holding ``path``, from the mount table."""
    try:
        lines = Path(mounts).read_text().splitlines()
    except OSError:
        return None
    target = str(Path(path).resolve())
    best: tuple[str, str] | None = None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if target == point or target.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) > len(best[0]):
                best = (point, parts[2])
    return best


def is_network(path: Path, mounts: str = "/proc/mounts") -> str | None:
    """The network filesystem type under ``path`` (cifs, nfs4, ...), or None if local."""
    found = filesystem_of(path, mounts)
    return found[1] if found and found[1] in NETWORK_FILESYSTEMS else None


# ----------------------------------------------------------------------- observers

class _Hints(FileSystemEventHandler):
    """Turns watchdog events into hints; never raises (a raising handler kills the observer)."""

    def __init__(self, on_file: Callable[[Path, bool], None], on_folder: Callable[[Path], None]) -> None:
        self._on_file = on_file
        self._on_folder = on_folder

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._dispatch(event)
        except Exception:  # noqa: BLE001
            log.exception("watch event handler failed", fs_event=repr(event))

    def _dispatch(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind not in ("created", "modified", "moved", "closed"):
            return  # opened / closed_no_write / deleted: our own reads must never cause work
        path = Path(os.fsdecode(event.dest_path if kind == "moved" else event.src_path))
        if event.is_directory:
            if kind in ("created", "moved"):
                self._on_folder(path)  # files may be inside before the new folder's watch exists
            return
        self._on_file(path, kind == "closed")


class _Overflow(logging.Handler):
    """watchdog reports an inotify queue overflow only in its log: rescan every root then."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self._on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if "overflow" in record.getMessage().lower():
                log.warning("inotify queue overflowed: events were lost, rescanning")
                self._on_overflow()
        except Exception:  # noqa: BLE001 - a logging handler must never raise
            pass


_INOTIFY_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")


class Watcher:
    """One observer per kind (inotify, polling) with every root scheduled recursively."""

    def __init__(self, roots: Sequence[Path], *, polling: bool, poll_interval: float,
                 on_file: Callable[[Path, bool], None], on_folder: Callable[[Path], None],
                 on_overflow: Callable[[], None] = lambda: None) -> None:
        self.roots = [Path(r) for r in roots]
        self._handler = _Hints(on_file, on_folder)
        self._overflow = _Overflow(on_overflow)
        self._observers: list = []
        self._polling = polling
        self._poll_interval = poll_interval

    def start(self) -> None:
        for name in _INOTIFY_LOGGERS:
            logging.getLogger(name).addHandler(self._overflow)
        native, polled = Observer(), PollingObserver(timeout=self._poll_interval)
        for root in self.roots:
            root.mkdir(parents=True, exist_ok=True)
            network = is_network(root)
            use_polling = self._polling or network is not None
            if network:
                log.info("network filesystem: using the polling observer", root=str(root), fs=network)
            (polled if use_polling else native).schedule(self._handler, str(root), recursive=True)
            log.info("watching", root=str(root), observer="polling" if use_polling else "native")
        for observer in (native, polled):
            if observer.emitters:
                observer.daemon = True
                observer.start()
                self._observers.append(observer)

    @property
    def alive(self) -> bool:
        return bool(self._observers) and all(o.is_alive() for o in self._observers)

    def stop(self) -> None:
        for name in _INOTIFY_LOGGERS:
            logging.getLogger(name).removeHandler(self._overflow)
        for observer in self._observers:
            observer.stop()
        for observer in self._observers:
            observer.join(timeout=5)
        self._observers.clear()


# ----------------------------------------------------------------------- stability

@dataclass
class _Watch:
    size: int
    mtime_ns: int
    since: float  # monotonic time the file was last seen changing
    closed: bool = False


class Settler:
    """Takes a file once it has stopped changing.

    ``hint(path)`` (from an event or a scan) starts or refreshes a watch on the
    file; one thread wakes only when some file's settle time is up (no busy
    loop), re-stats it, and calls ``on_stable(path, size, mtime_ns)`` when size
    and mtime have not changed for ``settle`` seconds. A close-after-write hint
    lets a file whose end looks complete go after ``close_grace`` instead.
    """

    def __init__(self, settle: float, on_stable: Callable[[Path, int, int], None],
                 close_grace: float = 0.1) -> None:
        self.settle = settle
        self._close_grace = min(close_grace, settle)
        self._on_stable = on_stable
        self._watches: dict[Path, _Watch] = {}
        self._heap: list[tuple[float, int, Path]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="settler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        return len(self._watches)

    def hint(self, path: Path, closed: bool = False) -> None:
        st = _stat(path)
        if st is None:
            return
        now = time.monotonic()
        with self._cond:
            watch = self._watches.get(path)
            if watch is None:
                self._watches[path] = watch = _Watch(st[0], st[1], now)
                self._schedule(path, now + self.settle)
            elif (watch.size, watch.mtime_ns) != st:
                # Still being written: its pending check sees the new stamp and waits again.
                watch.size, watch.mtime_ns, watch.since, watch.closed = st[0], st[1], now, False
            if closed:
                watch.closed = True
                self._schedule(path, now + self._close_grace)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _schedule(self, path: Path, due: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, path))
        self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                if self._stopped:
                    return
                _, _, path = heapq.heappop(self._heap)
            try:
                self._check(path)
            except Exception:  # noqa: BLE001 - one odd file never stops the settler
                log.exception("stability check failed", path=str(path))

    def _check(self, path: Path) -> None:
        st = _stat(path)
        now = time.monotonic()
        with self._cond:
            watch = self._watches.get(path)
            if watch is None:
                return
            if st is None:
                del self._watches[path]  # gone (renamed away, deleted): its new name brings its own hint
                return
            if (watch.size, watch.mtime_ns) != st:
                self._watches[path] = _Watch(st[0], st[1], now, False)
                self._schedule(path, now + self.settle)
                return
            quiet = now - watch.since
            early = watch.closed and quiet >= self._close_grace and looks_complete(path)
            if quiet + 1e-3 < self.settle and not early:
                self._schedule(path, watch.since + self.settle)
                return
            del self._watches[path]
        self._on_stable(path, st[0], st[1])


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return st.st_size, st.st_mtime_ns


_TRAILERS = {".jpg": (b"\xff\xd9",), ".jpeg": (b"\xff\xd9",), ".png": (b"IEND\xaeB`\x82",)}


def looks_complete(path: Path) -> bool:
    """Whether the file ends the way a complete file of its kind ends (JPEG EOI, PNG IEND).

    Only used to take a file early on a close event; formats without a cheap
    trailer check wait for the full settle time."""
    trailers = _TRAILERS.get(path.suffix.lower())
    if not trailers:
        return False
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size < 16:
                return False
            f.seek(max(0, size - 64))
            tail = f.read()
    except OSError:
        return False
    tail = tail.rstrip(b"\x00\r\n ")
    return any(tail.endswith(t) for t in trailers)
