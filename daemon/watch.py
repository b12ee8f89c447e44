"""Watching the hot folders: observers, what a file is, stability.

Filesystem events are hints, never the truth: an event only says "look at this
path soon". ``Settler`` then takes a file when its size and mtime have stayed
the same for ``settle_seconds`` (a close-after-write event with a complete
file end shortens the wait; a file still at 0 bytes waits
``empty_grace_seconds``: a writer may have opened it and paused), and ``scan``
walks the whole tree at start and periodically, so files that arrived while
the daemon was down, or whose events were lost, reach the same intake.

inotify sees nothing on network mounts, so a root on cifs/smb3/nfs (read from
the mount table) gets the polling observer, as does every root when
``watch.polling`` is set. Each root is supervised on its own (``Watcher.check``):
one that is missing or unreadable (a share not mounted yet, a typo) is
reported and looked for again every ``watch.root_check_seconds`` while the
others keep working; one that disappears and comes back (a share remounted)
gets its watch placed again.
"""

from __future__ import annotations

import fnmatch
import heapq
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from daemon.files import display
from daemon.logging import get_logger
from daemon.mounts import network_fs

log = get_logger("watch")

# Photo formats booth cannot read: a file like this in a watched folder is
# reported (status and log, once) instead of silently ignored.
RAW_EXTENSIONS = frozenset({
    ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf", ".rw2", ".pef",
    ".srw", ".x3f", ".3fr", ".iiq", ".rwl", ".erf", ".mrw", ".kdc", ".dcr", ".mef", ".mos"})
OTHER_UNREADABLE = frozenset({".psd", ".psb", ".jxl", ".svg", ".eps"})


# ----------------------------------------------------------------------- what a file is

class Take(StrEnum):
    YES = "take"      # a photo to process
    NO = "ignore"     # not ours: hidden, temporary, another kind of file, our own output
    REPORT = "report"  # looks like a photo but cannot be taken as it is: say so, once


@dataclass(frozen=True)
class Decision:
    take: Take
    kind: str = ""
    reason: str = ""
    fix: str = ""


_YES, _NO = Decision(Take.YES), Decision(Take.NO)


@dataclass(frozen=True)
class Candidates:
    """Which files are photos to take: an image extension, nothing hidden or temporary."""

    extensions: frozenset[str]
    ignore: tuple[str, ...]
    excluded: tuple[Path, ...] = ()  # output, quarantine, archive, state: never taken even if inside a root
    roots: tuple[Path, ...] = ()  # hidden folders count only below these
    follow_symlinks: bool = False

    @classmethod
    def of(cls, watch, excluded: Iterable[Path] = ()) -> "Candidates":
        return cls(frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in watch.extensions),
                   tuple(p.lower() for p in watch.ignore), tuple(Path(p) for p in excluded),
                   tuple(Path(p) for p in watch.paths), bool(getattr(watch, "follow_symlinks", False)))

    def accepts(self, path: str | Path) -> bool:
        return self.classify(path).take is Take.YES

    def classify(self, path: str | Path, *, is_link: bool | None = None) -> Decision:
        path = Path(path)
        lower = path.name.lower()
        if any(fnmatch.fnmatchcase(lower, pattern) for pattern in self.ignore):
            return _NO
        if any(part.startswith(".") for part in self._folders_below_root(path)):
            return _NO  # inside a hidden folder (.sync, .Trash...)
        if any(_inside(path, folder) for folder in self.excluded):
            return _NO
        suffix = path.suffix.lower()
        if suffix not in self.extensions:
            return self._unreadable_kind(suffix)
        if not self.follow_symlinks and (os.path.islink(path) if is_link is None else is_link):
            return Decision(Take.REPORT, "link", "a symbolic link: links are not followed",
                            "copy the photo into the folder, or set watch.follow_symlinks: true")
        return _YES

    def _unreadable_kind(self, suffix: str) -> Decision:
        if suffix in RAW_EXTENSIONS:
            return Decision(Take.REPORT, "format", f"a camera RAW file ({suffix}): booth reads JPEG, PNG, TIFF, "
                            "WebP, HEIC, AVIF, GIF and BMP", "export JPEG (or TIFF) from the booth")
        if suffix in OTHER_UNREADABLE:
            return Decision(Take.REPORT, "format", f"a {suffix} file is not a photo booth can read",
                            "export JPEG (or TIFF) instead")
        return _NO

    def _folders_below_root(self, path: Path) -> tuple[str, ...]:
        for root in sorted(self.roots, key=lambda r: -len(r.parts)):
            if _inside(path, root):
                return path.relative_to(root).parts[:-1]
        return ()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def scan(root: Path, candidates: Candidates,
         on_report: Callable[[Path, Decision], None] = lambda path, decision: None) -> Iterator[Path]:
    """Every candidate file under ``root``, recursively; files that look like
    photos but cannot be taken go to ``on_report``. Unreadable folders are
    reported too; folder links are followed only with ``follow_symlinks``
    (each real folder once)."""
    stack, seen = [root], set()
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(folder))
        except OSError as exc:
            if folder != root:
                on_report(folder, Decision(Take.REPORT, "folder", f"the folder cannot be read ({exc.strerror})",
                                           "give the daemon's user read and execute access to it"))
            continue
        for entry in entries:
            try:
                path = Path(entry.path)
                link = entry.is_symlink()
                if entry.is_dir(follow_symlinks=candidates.follow_symlinks):
                    if not entry.name.startswith(".") and not any(_inside(path, f) for f in candidates.excluded):
                        stack.append(path)
                    continue
                if link and not candidates.follow_symlinks and os.path.isdir(path):
                    on_report(path, Decision(Take.REPORT, "link", "a symbolic link to a folder: links are not "
                                             "followed", "move the folder in, or set watch.follow_symlinks: true"))
                    continue
                decision = candidates.classify(path, is_link=link)
                if decision.take is Take.YES and (candidates.follow_symlinks or entry.is_file(follow_symlinks=False)):
                    yield path
                elif decision.take is Take.REPORT:
                    on_report(path, decision)
            except OSError:
                continue


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
            log.exception("watch event handler failed", fs_event=display(repr(event)))

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


@dataclass
class RootState:
    """How one watched folder is doing: what ``booth status`` and ``booth doctor`` show."""

    path: Path
    ok: bool = False
    observer: str | None = None  # "native" | "polling" | None while it is not watched
    error: str | None = None
    since: float = field(default_factory=time.time)
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the folder being watched
    watch: object = None  # watchdog's ObservedWatch

    def as_dict(self) -> dict:
        return {"path": display(self.path), "ok": self.ok, "observer": self.observer, "error": self.error,
                "since": self.since}


def root_problem(path: Path, create: bool = True) -> str | None:
    """Why ``path`` cannot be watched right now (None: it can). A missing
    folder is created when its parent allows it, as on first start."""
    try:
        if create and not os.path.lexists(path):
            path.mkdir(parents=True, exist_ok=True)
        st = os.stat(path)
    except OSError as exc:
        return str(exc.strerror or exc)
    if not stat.S_ISDIR(st.st_mode):
        return "not a folder"
    try:
        with os.scandir(path) as entries:
            next(entries, None)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


class Watcher:
    """One observer per kind (inotify, polling), each root scheduled on its own
    and supervised by ``check``."""

    def __init__(self, roots: Sequence[Path], *, polling: bool, poll_interval: float,
                 on_file: Callable[[Path, bool], None], on_folder: Callable[[Path], None],
                 on_overflow: Callable[[], None] = lambda: None,
                 on_root_back: Callable[[Path], None] = lambda root: None) -> None:
        self.roots = [RootState(Path(r)) for r in roots]
        self._handler = _Hints(on_file, on_folder)
        self._overflow = _Overflow(on_overflow)
        self._polling = polling
        self._poll_interval = poll_interval
        self._on_root_back = on_root_back
        self._native: Observer | None = None
        self._polled: PollingObserver | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        for name in _INOTIFY_LOGGERS:
            logging.getLogger(name).addHandler(self._overflow)
        self._native, self._polled = Observer(), PollingObserver(timeout=self._poll_interval)
        for observer in (self._native, self._polled):
            observer.daemon = True
            observer.start()
        self.check()

    def check(self) -> list[RootState]:
        """Look at every root: place the watch of one that is (back) usable, take
        it off one that is gone, and report each change once in the log."""
        with self._lock:
            for root in self.roots:
                self._check(root)
            return list(self.roots)

    def _check(self, root: RootState) -> None:
        problem = root_problem(root.path)
        if problem is None:
            st = os.stat(root.path)
            identity = (st.st_dev, st.st_ino)
            if root.ok and identity == root.identity and self._emitter_alive(root):
                return
            self._unschedule(root)
            try:
                self._schedule(root)
            except OSError as exc:  # e.g. the inotify watch limit
                problem = f"cannot be watched: {exc.strerror or exc}"
            else:
                was_down = not root.ok and root.error is not None
                root.ok, root.error, root.identity, root.since = True, None, identity, time.time()
                log.info("watching", root=display(root.path), observer=root.observer)
                if was_down:
                    log.info("watch folder is back", root=display(root.path))
                self._on_root_back(root.path)
                return
        if root.error != problem:
            log.error("watch folder unusable; the other folders keep working and this one is looked "
                      "for again", root=display(root.path), reason=problem,
                      fix=f"create it or mount the share (the daemon's user needs read access): {root.path}")
        self._unschedule(root)
        root.ok, root.error, root.observer, root.identity, root.since = False, problem, None, None, time.time()

    def _schedule(self, root: RootState) -> None:
        fs = network_fs(root.path)
        use_polling = self._polling or fs is not None
        if fs and not self._polling:
            log.info("network filesystem: using the polling observer", root=display(root.path), fs=fs)
        observer = self._polled if use_polling else self._native
        root.watch = observer.schedule(self._handler, str(root.path), recursive=True)
        root.observer = "polling" if use_polling else "native"

    def _unschedule(self, root: RootState) -> None:
        if root.watch is None:
            return
        for observer in (self._native, self._polled):
            try:
                observer.unschedule(root.watch)
            except (KeyError, OSError, Exception):  # noqa: BLE001 - a watch whose folder is gone
                pass
        root.watch = None

    def _emitter_alive(self, root: RootState) -> bool:
        observer = self._polled if root.observer == "polling" else self._native
        emitters = [e for e in observer.emitters if e.watch == root.watch]
        return bool(emitters) and all(e.is_alive() for e in emitters)

    @property
    def alive(self) -> bool:
        """The observer threads run (a root that is down is reported per root, not here)."""
        return all(o is not None and o.is_alive() for o in (self._native, self._polled))

    @property
    def all_ok(self) -> bool:
        return all(r.ok for r in self.roots)

    def stop(self) -> None:
        for name in _INOTIFY_LOGGERS:
            logging.getLogger(name).removeHandler(self._overflow)
        for observer in (self._native, self._polled):
            if observer is not None:
                observer.stop()
        for observer in (self._native, self._polled):
            if observer is not None and observer.is_alive():
                observer.join(timeout=5)


# ----------------------------------------------------------------------- stability

@dataclass
class _Watch:
    size: int
    mtime_ns: int
    since: float  # clock time the file was last seen changing
    closed: bool = False


class Settler:
    """Takes a file once it has stopped changing.

    ``hint(path)`` (from an event or a scan) starts or refreshes a watch on the
    file; ``run_due()`` re-stats the files whose time is up and calls
    ``on_stable(path, size, mtime_ns)`` for those whose size and mtime have not
    changed for ``settle`` seconds. A close-after-write hint lets a file whose
    end looks complete go after ``close_grace`` instead; a file at 0 bytes waits
    ``empty_grace`` before it counts (a writer may have opened it and paused).
    ``start`` runs ``run_due`` on a thread that wakes only when something is
    due; tests drive ``run_due`` themselves with their own ``clock``.
    """

    def __init__(self, settle: float, on_stable: Callable[[Path, int, int], None],
                 close_grace: float = 0.1, empty_grace: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settle = settle
        self._close_grace = min(close_grace, settle)
        self._empty_grace = max(empty_grace, settle)
        self._on_stable = on_stable
        self._clock = clock
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
        now = self._clock()
        with self._cond:
            watch = self._watches.get(path)
            if watch is None:
                self._watches[path] = watch = _Watch(st[0], st[1], now)
                self._schedule(path, now + self.settle)
            elif (watch.size, watch.mtime_ns) != st:
                # Still being written (or written at last after a pause at 0 bytes):
                # look again a settle time from now.
                watch.size, watch.mtime_ns, watch.since, watch.closed = st[0], st[1], now, False
                self._schedule(path, now + self.settle)
            if closed:
                watch.closed = True
                self._schedule(path, now + self._close_grace)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def next_due(self) -> float | None:
        with self._cond:
            return self._heap[0][0] if self._heap else None

    def run_due(self) -> int:
        """Check every file whose time has come; returns how many were checked."""
        checked = 0
        while True:
            with self._cond:
                if not self._heap or self._heap[0][0] > self._clock():
                    return checked
                _, _, path = heapq.heappop(self._heap)
            checked += 1
            try:
                self._check(path)
            except Exception:  # noqa: BLE001 - one odd file never stops the settler
                log.exception("stability check failed", path=display(path))

    def _schedule(self, path: Path, due: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, path))
        self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > self._clock()):
                    self._cond.wait(None if not self._heap else self._heap[0][0] - self._clock())
                if self._stopped:
                    return
            self.run_due()

    def _check(self, path: Path) -> None:
        st = _stat(path)
        now = self._clock()
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
            wait = self._empty_grace if st[0] == 0 else self.settle
            early = watch.closed and st[0] > 0 and quiet >= self._close_grace and looks_complete(path)
            if quiet + 1e-3 < wait and not early:
                self._schedule(path, watch.since + wait)
                return
            del self._watches[path]
        self._on_stable(path, st[0], st[1])


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
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
