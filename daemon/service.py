"""``booth run``: the long-running service, its intake and its signals.

Start order: validate config -> open the journal (and recover jobs cut short by
a crash) -> build and warm up the segmenter -> start the worker -> place the
watches -> scan every root -> READY. Shutdown order is fixed: stop intake
(watches, settler, scanner) -> drain the in-flight jobs within
``workers.shutdown_timeout`` -> checkpoint what did not finish -> close the
journal.

SIGTERM/SIGINT stop; SIGHUP reloads the config and keeps the old one when the
new one is invalid.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import pipeline
from daemon import events as ev
from daemon.config import Config, ConfigError, load_config
from daemon.journal import DONE, Journal
from daemon.logging import get_logger
from daemon.router import Router
from daemon.watch import Candidates, Settler, Watcher, scan
from daemon.worker import Publisher, Worker, sha256_file, sweep_temp_files

JOURNAL_FILE = "journal.sqlite3"
HEALTH_FILE = "daemon.json"
HEARTBEAT_SECONDS = 15.0

log = get_logger("service")


class AlreadyRunning(Exception):
    """Another ``booth run`` holds this state directory: two would process every photo twice."""


def lock_state_dir(state_dir: Path):
    """An exclusive lock on ``state_dir/daemon.lock``, held for the process's life."""
    import fcntl

    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / "daemon.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunning(f"another booth run is already using {state_dir}") from None
    return handle


@dataclass(frozen=True)
class Health:
    observer_alive: bool
    workers_alive: bool
    idle: bool
    last_progress: float  # time.monotonic() of the last finished stage
    queue_depth: int
    last_done: str | None


def journal_path(config: Config) -> Path:
    return Path(config.state_dir) / JOURNAL_FILE


def build_segmenter(config: Config):
    """The process's one segmenter; a learned model resolves to its installed, verified file."""
    try:
        from integrations.models import resolver
    except ImportError:  # a build without the model registry: white-studio only
        return pipeline.build_segmenter(config.segmenter)
    return pipeline.build_segmenter(config.segmenter, resolve_model=resolver(Path(config.models_dir)),
                                    cache_dir=Path(config.state_dir) / "cache")


# What a reload cannot apply to a running daemon: the journal and lock live in
# state_dir, the stage threads and the memory bound are sized at start, and the
# publisher, the metrics endpoint and logging are set up once.
RESTART_ONLY = ("state_dir", "workers.decode", "workers.finish", "workers.publish", "workers.max_in_memory",
                "shopify", "metrics", "logging")


def restart_only_changes(old: Config, new: Config) -> list[str]:
    def value(config: Config, dotted: str):
        for part in dotted.split("."):
            config = getattr(config, part)
        return config
    return [k for k in RESTART_ONLY if value(old, k) != value(new, k)]


def candidates_for(config: Config) -> Candidates:
    """The files the daemon takes: photos by name, never its own output, quarantine, archive or state."""
    excluded = [config.output.dir, config.quarantine, config.archive_dir, config.state_dir]
    return Candidates.of(config.watch, excluded=[Path(p) for p in excluded])


def warm_up(segmenter):
    """One small cut-out: the first call pays the session setup (and, on a GPU,
    proves the provider runs) before any photo waits on it."""
    segmenter.segment(np.full((64, 64, 3), 250, np.uint8))
    return segmenter


class Service:
    def __init__(self, config: Config, *, publisher: Publisher | None = None, segmenter=None,
                 finish=pipeline.finish) -> None:
        self.config = config
        self.events = ev.Events()
        self._publisher = publisher
        self._segmenter = segmenter
        self._finish = finish
        self._signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._rescan_now: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._known: dict[str, tuple[int | None, int | None]] = {}
        self._intake_lock = threading.Lock()
        self.journal: Journal | None = None
        self._lock = None
        self.worker: Worker | None = None
        self._watcher: Watcher | None = None
        self._settler: Settler | None = None
        self._scanner: threading.Thread | None = None
        self._started_at = time.time()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        config = self.config
        if config.shopify.enabled and self._publisher is None:
            raise ConfigError("shopify.enabled is true but no publisher is available")
        self._lock = lock_state_dir(Path(config.state_dir))
        self.journal = Journal(journal_path(config))
        recovered = self.journal.recover()
        if recovered:
            log.info("resuming jobs cut short by the last stop", jobs=recovered)
        self._known = self.journal.known_files()
        try:
            swept = sweep_temp_files(Path(config.output.dir))
        except OSError:
            swept = 0
        if swept:
            log.info("removed half-written files left by an earlier crash", files=swept)
        self._router = Router(config.routes)
        self._candidates = candidates_for(config)
        if self._segmenter is None:
            self._segmenter = build_segmenter(config)
        warm_up(self._segmenter)
        self.worker = Worker(config, self.journal, self._segmenter, self.events, publisher=self._publisher,
                             finish=self._finish, on_superseded=self._hint)
        self.worker.start()
        self._start_intake(config)
        self._write_health()
        self.events.emit(ev.READY, **self._segmenter_fields(), watched=[str(p) for p in config.watch.paths])
        log.info("ready", watched=[str(p) for p in config.watch.paths], output=str(config.output.dir),
                 settle_seconds=config.watch.settle_seconds, jobs=self.journal.counts())

    def _start_intake(self, config: Config) -> None:
        self._settler = Settler(config.watch.settle_seconds, self._intake)
        self._settler.start()
        self._watcher = Watcher(config.watch.paths, polling=config.watch.polling,
                                poll_interval=config.watch.poll_interval,
                                on_file=self._hint_event, on_folder=self._rescan_now.put,
                                on_overflow=self._rescan_roots)
        self._watcher.start()
        self._scanner = threading.Thread(target=self._scan_loop, args=(config.watch.rescan_seconds,),
                                         name="scanner", daemon=True)
        self._scanner.start()

    def _stop_intake(self) -> None:
        if self._watcher:
            self._watcher.stop()
        if self._scanner:
            self._rescan_now.put(None)
            self._scanner.join(timeout=10)
        if self._settler:
            self._settler.stop()

    def stop(self) -> bool:
        """Fixed order: stop intake, drain, checkpoint, close. True if everything drained."""
        if self._stopping.is_set():
            return True
        self._stopping.set()
        self.events.emit(ev.STOPPING)
        log.info("stopping", queued=self.worker.queue_depth if self.worker else 0)
        self._stop_intake()
        drained = True
        if self.worker:
            drained = self.worker.stop(self.config.workers.shutdown_timeout)
        if self.journal:
            self._write_health(stopped=True)
            self.journal.close()
        if self._lock:
            self._lock.close()
        log.info("stopped", drained=drained)
        return drained

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit status."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda signum, _frame: self._signals.put(signum))
        self.start()
        while True:
            try:
                signum = self._signals.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                continue
            if signum == signal.SIGHUP:
                self.reload()
                continue
            log.info("signal received", signal=signal.Signals(signum).name)
            self.stop()
            return 0

    def reload(self) -> bool:
        """Load and validate the config again and apply it; keep the running one whole
        if the new one is invalid or names a segmenter that cannot load and run."""
        source = self.config.source
        if not source:
            log.warning("config reload: the running config has no source file")
            return False
        self.events.emit(ev.RELOADING)
        try:
            new = load_config(source)
        except ConfigError as exc:
            log.error("config reload failed; keeping the running config", error=str(exc))
            self.events.emit(ev.RELOADED, **self._segmenter_fields())
            return False
        old = self.config
        segmenter = None
        if new.segmenter != old.segmenter or new.models_dir != old.models_dir:
            try:  # built and warmed up beside the running one: the worker never waits on it
                segmenter = warm_up(build_segmenter(new))
            except Exception as exc:  # noqa: BLE001 - whatever the new model does, the daemon keeps running
                log.error("config reload failed: the new segmenter cannot run; keeping the running config",
                          error=str(exc), error_type=type(exc).__name__)
                self.events.emit(ev.RELOADED, **self._segmenter_fields())
                return False
        self.config = new
        self._router = Router(new.routes)
        self._candidates = candidates_for(new)
        self.worker.config = new
        if segmenter is not None:
            was = self._segmenter_fields()
            self._segmenter = segmenter
            self.worker.use_segmenter(segmenter)
            log.info("segmenter changed", **self._segmenter_fields(),
                     previous=f"{was['segmenter']} ({was['provider']})")
        waiting = restart_only_changes(old, new)
        if waiting:
            log.warning("these settings take effect at the next restart", settings=waiting)
        if new.watch != old.watch:
            self._stop_intake()
            self._start_intake(new)
        self._write_health()
        log.info("config reloaded", source=str(source))
        self.events.emit(ev.RELOADED, **self._segmenter_fields())
        return True

    def _segmenter_fields(self) -> dict[str, str]:
        seg = self._segmenter
        return {"segmenter": str(getattr(seg, "name", type(seg).__name__)),
                "provider": str(getattr(seg, "provider", "cpu"))}

    def health(self) -> Health:
        watcher, worker, settler = self._watcher, self.worker, self._settler
        return Health(
            observer_alive=bool(watcher and watcher.alive and settler and settler.alive),
            workers_alive=bool(worker and worker.alive),
            idle=bool(worker and worker.idle and settler and settler.pending == 0),
            last_progress=worker.last_progress if worker else time.monotonic(),
            queue_depth=worker.queue_depth if worker else 0,
            last_done=worker.last_done if worker else None)

    # ------------------------------------------------------------------ intake

    def _hint_event(self, path: Path, closed: bool) -> None:
        if self._candidates.accepts(path) and not self._stopping.is_set():
            self._settler.hint(path, closed=closed)

    def _hint(self, path: Path) -> None:
        self._known.pop(str(path), None)
        self._hint_event(path, False)

    def _root_of(self, path: Path) -> Path | None:
        roots = sorted((Path(r) for r in self.config.watch.paths), key=lambda r: len(str(r)), reverse=True)
        for root in roots:
            try:
                path.relative_to(root)
                return root
            except ValueError:
                continue
        return None

    def _intake(self, path: Path, size: int, mtime_ns: int) -> None:
        """A stable file: record the version in the journal (once) and wake the worker."""
        if self._stopping.is_set():
            return
        key = str(path)
        if self._known.get(key) == (size, mtime_ns):
            return  # this very version was seen already (a rescan, a late event)
        root = self._root_of(path)
        if root is None:
            return
        try:
            sha = sha256_file(path)
        except OSError:
            return  # gone again: its new name (if any) brings its own hint
        rel = path.relative_to(root).as_posix()
        route = self._router.route(rel)
        with self._intake_lock:
            job, created = self.journal.add(sha, path, root=root, rel=rel, size=size, mtime_ns=mtime_ns,
                                             category=route.category, product_key=route.product_key,
                                             view=route.view, index=route.index, fields=route.fields)
            self._known[key] = (size, mtime_ns)
            if not created:
                log.debug("already known", job_id=job.id, path=key, state=job.state)
                return
            twin = self.journal.twin(sha, route.category, route.product_key, route.view, route.index, job.id)
            if twin is not None:
                self.journal.set_state(job.id, DONE, duplicate_of=twin.id, output=twin.output)
                log.info("duplicate of an earlier photo; not processed again", job_id=job.id, path=key,
                         duplicate_of=twin.id, category=route.category, product_key=route.product_key)
                return
        log.info("job queued", job_id=job.id, path=key, category=route.category, product_key=route.product_key,
                 view=route.view, index=route.index, stage="intake")
        self.events.emit(ev.JOB_QUEUED, job_id=job.id, path=key)
        self.events.emit(ev.QUEUE_DEPTH, depth=self.worker.queue_depth)
        self.worker.wake()

    def _scan_loop(self, every: float) -> None:
        next_full = time.monotonic()  # the startup scan
        while not self._stopping.is_set():
            wait = next_full - time.monotonic()
            if wait <= 0:
                self._scan_all()
                next_full = time.monotonic() + every
                continue
            try:
                folder = self._rescan_now.get(timeout=min(wait, HEARTBEAT_SECONDS))
            except queue.Empty:
                self._write_health()
                continue
            if folder is None:
                return
            self._scan(folder)

    def _rescan_roots(self) -> None:
        for root in self.config.watch.paths:
            self._rescan_now.put(Path(root))

    def _scan_all(self) -> None:
        for root in self.config.watch.paths:
            self._scan(Path(root))

    def _scan(self, folder: Path) -> None:
        try:
            for path in scan(folder, self._candidates):
                if self._stopping.is_set():
                    return
                try:
                    st = path.stat()
                except OSError:
                    continue
                if self._known.get(str(path)) != (st.st_size, st.st_mtime_ns):
                    self._settler.hint(path)
        except Exception:  # noqa: BLE001 - a scan problem never stops the daemon
            log.exception("scan failed", folder=str(folder))


    # ------------------------------------------------------------------ health file

    def _write_health(self, stopped: bool = False) -> None:
        """``state_dir/daemon.json``: what ``booth status`` reports about the running daemon."""
        health = self.health()
        data = {"pid": os.getpid(), "started_at": self._started_at, "updated_at": time.time(),
                "stopped": stopped, "watched": [str(p) for p in self.config.watch.paths],
                **(self._segmenter_fields() if self._segmenter is not None else {}),
                "last_progress_age_s": round(time.monotonic() - health.last_progress, 1), **asdict(health)}
        path = Path(self.config.state_dir) / HEALTH_FILE
        try:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, path)
        except OSError:
            pass


def read_health(config: Config) -> dict | None:
    try:
        return json.loads((Path(config.state_dir) / HEALTH_FILE).read_text())
    except (OSError, ValueError):
        return None
