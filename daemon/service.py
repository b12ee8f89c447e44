"""``booth run``: the long-running service, its intake and its signals.

Start order: validate config -> lock and open the journal (refuse a lost one;
recover jobs cut short by a crash) -> build and warm up the segmenters ->
start the worker -> place the watches -> scan every root -> READY. Shutdown
order is fixed: stop intake (watches, settler, scanner) -> drain the in-flight
jobs within ``workers.shutdown_timeout`` -> checkpoint what did not finish ->
close the journal.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pipeline
from daemon import events as ev
from daemon import files
from daemon.config import Config, ConfigError, load_config
from daemon.intake import Intake
from daemon.journal import DONE, Journal, JournalError
from daemon.logging import get_logger
from daemon.router import Router
from daemon.runner import Runner, Segmenters
from daemon.watch import Candidates, Decision, Settler, Take, Watcher, scan
from daemon.worker import Publisher, Worker, output_folder

JOURNAL_FILE = "journal.sqlite3"
HEALTH_FILE = "daemon.json"
HEARTBEAT_SECONDS = 15.0

log = get_logger("service")


class AlreadyRunning(Exception):
    """Another ``booth run`` holds this state directory: two would process every photo twice."""


class LostJournal(Exception):
    """The journal is empty but finished images exist: it was deleted or emptied."""


def lock_state_dir(state_dir: Path):
    """An exclusive lock on ``state_dir/daemon.lock``, held for the process's life."""
    import fcntl

    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(state_dir / "daemon.lock", "a+")
    except OSError as exc:
        raise JournalError(f"{state_dir}: the state folder cannot be written ({exc.strerror or exc}); "
                           f"it must be writable by the daemon's user (sudo chown booth: {state_dir})") from None
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
    roots: list[dict] = field(default_factory=list)


def journal_path(config: Config) -> Path:
    return Path(config.state_dir) / JOURNAL_FILE


# What a reload cannot apply to a running daemon: the journal and lock live in
# state_dir, the stage threads and the memory bound are sized at start, and the
# publisher, the metrics endpoint, the review page and logging are set up once.
RESTART_ONLY = ("state_dir", "workers.decode", "workers.finish", "workers.publish", "workers.max_in_memory",
                "shopify", "metrics", "review", "logging")


def restart_only_changes(old: Config, new: Config) -> list[str]:
    def value(config: Config, dotted: str):
        for part in dotted.split("."):
            config = getattr(config, part, None)
        return config
    return [k for k in RESTART_ONLY if value(old, k) != value(new, k)]


def candidates_for(config: Config) -> Candidates:
    """The files the daemon takes: photos by name, never its own output, quarantine, archive or state."""
    excluded = [config.output.dir, config.quarantine, config.archive_dir, config.state_dir]
    return Candidates.of(config.watch, excluded=[Path(p) for p in excluded])


def finished_images(config: Config, limit: int = 1) -> int:
    """How many finished images ``output.dir`` holds (counting stops at ``limit``)."""
    count = 0
    for folder, dirs, names in os.walk(config.output.dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(1 for n in names if not n.startswith(".") and Path(n).suffix.lower() in (
            ".jpg", ".jpeg", ".png", ".webp"))
        if count >= limit:
            break
    return count


class Service:
    def __init__(self, config: Config, *, publisher: Publisher | None = None, segmenters: Segmenters | None = None,
                 finish=pipeline.finish, rebuild_journal: bool = False) -> None:
        self.config = config
        self.events = ev.Events()
        self._publisher = publisher
        self.segmenters = segmenters
        self._finish = finish
        self._rebuild = rebuild_journal
        self._signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._rescan_now: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._known: dict[str, tuple[int | None, int | None]] = {}
        self._intake_lock = threading.Lock()
        self.journal: Journal | None = None
        self._lock = None
        self.worker: Worker | None = None
        self.runner: Runner | None = None
        self.intake: Intake | None = None
        self._watcher: Watcher | None = None
        self._settler: Settler | None = None
        self._scanner: threading.Thread | None = None
        self._scan_started: dict[str, float] = {}
        self._started_at = time.time()
        self.review_server = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        config = self.config
        if config.shopify.enabled and self._publisher is None:
            raise ConfigError("shopify.enabled is true but no publisher is available")
        self._lock = lock_state_dir(Path(config.state_dir))
        self.journal = Journal(journal_path(config))
        self.intake = Intake(config, self.journal)
        self._check_journal()
        recovered = self.journal.recover()
        if recovered:
            log.info("resuming jobs cut short by the last stop", jobs=recovered)
        self._known = self.journal.known_files()
        try:
            swept = files.sweep_temp_files(Path(config.output.dir))
        except OSError:
            swept = 0
        if swept:
            log.info("removed half-written files left by an earlier crash", files=swept)
        self._candidates = candidates_for(config)
        self._say_findings(config)
        if self.segmenters is None:
            self.segmenters = Segmenters(config)
        self.runner = Runner(config, self.segmenters, finish=self._finish)
        from daemon.review import Thumbnails
        self.worker = Worker(config, self.journal, self.runner, self.events, publisher=self._publisher,
                             thumbnails=Thumbnails(Path(config.state_dir) / "thumbs"), on_superseded=self._hint)
        self.worker.start()
        self._start_intake(config)
        self._start_review(config)
        self._write_health()
        self.events.emit(ev.READY, **self.segmenters.describe(), watched=[str(p) for p in config.watch.paths])
        log.info("ready", watched=[files.display(p) for p in config.watch.paths], output=str(config.output.dir),
                 settle_seconds=config.watch.settle_seconds, jobs=self.journal.counts(),
                 review=self.review_server.url if self.review_server else None)

    def _say_findings(self, config: Config) -> None:
        """What the config points to that is worth knowing (the placeholder logo...);
        watch folders and models speak for themselves as they are set up."""
        from daemon.config import config_findings
        for finding in config_findings(config, folders=False, models=False):
            log.warning("config: " + finding.message, key=finding.key, level_of_finding=finding.level,
                        fix=finding.fix or None)

    def _check_journal(self) -> None:
        """An empty journal beside finished images means it was lost: starting
        silently would process (and publish) everything again."""
        if self.journal.total() > 0 or not finished_images(self.config):
            return
        if not self._rebuild:
            raise LostJournal(
                f"the journal {self.journal.path} is empty but {self.config.output.dir} holds finished images: "
                "the journal was deleted or emptied. Starting now would process and publish every photo again. "
                "Run `booth run --rebuild-journal` once to adopt the finished images (they are not processed or "
                "published again), or empty the output folder to start afresh")
        adopted, queued = rebuild_journal(self.config, self.intake)
        log.warning("journal rebuilt from the watched folders and the finished images", adopted=adopted,
                    queued=queued)

    def _start_intake(self, config: Config) -> None:
        self._settler = Settler(config.watch.settle_seconds, self._take,
                                empty_grace=config.watch.empty_grace_seconds)
        self._settler.start()
        self._watcher = Watcher(config.watch.paths, polling=config.watch.polling,
                                poll_interval=config.watch.poll_interval,
                                on_file=self._hint_event, on_folder=self._rescan_now.put,
                                on_overflow=self._rescan_roots, on_root_back=self._rescan_now.put)
        self._watcher.start()
        self._scanner = threading.Thread(target=self._scan_loop, args=(config,), name="scanner", daemon=True)
        self._scanner.start()

    def _stop_intake(self) -> None:
        if self._watcher:
            self._watcher.stop()
        if self._scanner:
            self._rescan_now.put(None)
            self._scanner.join(timeout=10)
        if self._settler:
            self._settler.stop()

    def _start_review(self, config: Config) -> None:
        review = getattr(config, "review", None)
        if review is None or not review.enabled:
            return
        from daemon.web import start_review_server
        self.review_server = start_review_server(self)

    def stop(self) -> bool:
        """Fixed order: stop intake, drain, checkpoint, close. True if everything drained."""
        if self._stopping.is_set():
            return True
        self._stopping.set()
        self.events.emit(ev.STOPPING)
        log.info("stopping", queued=self.worker.queue_depth if self.worker else 0)
        self._stop_intake()
        if self.review_server:
            self.review_server.close()
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
            self.events.emit(ev.RELOADED, **self.segmenters.describe())
            return False
        old = self.config
        segmenters = None
        from daemon.runner import segmenter_sections
        if segmenter_sections(new) != self.segmenters.sections or new.models_dir != old.models_dir:
            try:  # built and warmed up beside the running ones: the worker never waits on them
                segmenters = Segmenters(new)
            except Exception as exc:  # noqa: BLE001 - whatever the new model does, the daemon keeps running
                log.error("config reload failed: the new segmenter cannot run; keeping the running config",
                          error=str(exc), error_type=type(exc).__name__)
                self.events.emit(ev.RELOADED, **self.segmenters.describe())
                return False
        self.config = new
        self._say_findings(new)
        self._candidates = candidates_for(new)
        self.intake.config, self.intake.router = new, Router(new.routes)
        self.worker.config = self.runner.config = new
        if segmenters is not None:
            was = self.segmenters.describe()
            self.segmenters = self.runner.segmenters = segmenters
            log.info("segmenter changed", **segmenters.describe(), previous=f"{was['segmenter']} ({was['provider']})")
        waiting = restart_only_changes(old, new)
        if waiting:
            log.warning("these settings take effect at the next restart", settings=waiting)
        if new.watch != old.watch:
            self._stop_intake()
            self._start_intake(new)
        self._write_health()
        log.info("config reloaded", source=str(source))
        self.events.emit(ev.RELOADED, **self.segmenters.describe())
        return True

    def health(self) -> Health:
        watcher, worker, settler = self._watcher, self.worker, self._settler
        return Health(
            observer_alive=bool(watcher and watcher.alive and settler and settler.alive),
            workers_alive=bool(worker and worker.alive),
            idle=bool(worker and worker.idle and settler and settler.pending == 0),
            last_progress=worker.last_progress if worker else time.monotonic(),
            queue_depth=worker.queue_depth if worker else 0,
            last_done=worker.last_done if worker else None,
            roots=[r.as_dict() for r in watcher.roots] if watcher else [])

    # ------------------------------------------------------------------ intake

    def _hint_event(self, path: Path, closed: bool) -> None:
        if self._stopping.is_set():
            return
        decision = self._candidates.classify(path)
        if decision.take is Take.YES:
            self._settler.hint(path, closed=closed)
        elif decision.take is Take.REPORT:
            self._report(path, decision)

    def _hint(self, path: Path) -> None:
        self._known.pop(files.display(path), None)
        self._hint_event(path, False)

    def _report(self, path: Path, decision: Decision) -> None:
        """A file that looks like a photo but cannot be taken: in the journal's
        notices (``booth status``) and the log, once per file and reason."""
        located = files.locate(path, self.config.watch.paths)
        try:
            news = self.journal.notice(path, root=located.root if located else "", kind=decision.kind,
                                       reason=decision.reason, fix=decision.fix)
        except JournalError:
            news = True
        if news:
            log.warning("photo not taken", path=files.display(path), reason=decision.reason, fix=decision.fix)

    def _take(self, path: Path, size: int, mtime_ns: int) -> None:
        """A stable file: record the version in the journal (once) and wake the worker."""
        if self._stopping.is_set():
            return
        key = files.display(path)
        if self._known.get(key) == (size, mtime_ns):
            return  # this very version was seen already (a rescan, a late event)
        decision = self._candidates.classify(path)
        if decision.take is not Take.YES:
            if decision.take is Take.REPORT:
                self._report(path, decision)
            return
        with self._intake_lock:
            try:
                recorded = self.intake.record(path, size=size, mtime_ns=mtime_ns)
            except FileNotFoundError:
                return  # gone again: its new name (if any) brings its own hint
            except OSError as exc:
                self._report(path, Decision(Take.REPORT, "unreadable",
                                            f"cannot be read by the daemon ({exc.strerror or exc})",
                                            "give the daemon's user read access to the file and its folder "
                                            "(e.g. sudo chgrp booth FILE && sudo chmod g+r FILE)"))
                return
            if recorded is None:
                return
            self.journal.clear_notice(path)
            self._known[key] = (size, mtime_ns)
        job = recorded.job
        if not recorded.created:
            log.debug("already known", job_id=job.id, path=key, state=str(job.state))
            return
        if recorded.duplicate_of is not None:
            log.info("duplicate of an earlier photo; not processed again", job_id=job.id, path=key,
                     duplicate_of=recorded.duplicate_of, category=job.category, product_key=job.product_key)
            return
        log.info("job queued", job_id=job.id, path=key, category=job.category, product_key=job.product_key,
                 view=job.view, index=job.index, stage="intake")
        self.events.emit(ev.JOB_QUEUED, job_id=job.id, path=key)
        self.events.emit(ev.QUEUE_DEPTH, depth=self.worker.queue_depth)
        self.worker.wake()

    def _scan_loop(self, config: Config) -> None:
        every, check_every = config.watch.rescan_seconds, config.watch.root_check_seconds
        next_full = time.monotonic()  # the startup scan
        next_check = time.monotonic() + check_every
        next_health = time.monotonic() + HEARTBEAT_SECONDS
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_full:
                self._scan_all()
                next_full = time.monotonic() + every
                continue
            if now >= next_check:
                self._watcher.check()
                next_check = now + check_every
            if now >= next_health:
                self._write_health()
                next_health = now + HEARTBEAT_SECONDS
            try:
                folder = self._rescan_now.get(timeout=max(0.01, min(next_full, next_check, next_health) - now))
            except queue.Empty:
                continue
            if folder is None:
                return
            self._scan(folder)

    def _rescan_roots(self) -> None:
        for root in self.config.watch.paths:
            self._rescan_now.put(Path(root))

    def _scan_all(self) -> None:
        for root in self.config.watch.paths:
            started = time.time()
            if self._scan(Path(root)):
                previous = self._scan_started.get(str(root))
                if previous is not None:  # seen by neither of the last two scans: the file is gone or fine
                    self.journal.prune_notices(root, previous)
                self._scan_started[str(root)] = started

    def _scan(self, folder: Path) -> bool:
        if not os.path.isdir(folder):
            return False  # a root that is down: its watcher reports it
        try:
            for path in scan(folder, self._candidates, on_report=self._report):
                if self._stopping.is_set():
                    return False
                try:
                    st = path.stat()
                except OSError:
                    continue
                if self._known.get(files.display(path)) != (st.st_size, st.st_mtime_ns):
                    self._settler.hint(path)
        except Exception:  # noqa: BLE001 - a scan problem never stops the daemon
            log.exception("scan failed", folder=files.display(folder))
            return False
        return True

    # ------------------------------------------------------------------ health file

    def _write_health(self, stopped: bool = False) -> None:
        """``state_dir/daemon.json``: what ``booth status`` reports about the running daemon."""
        health = self.health()
        data = {"pid": os.getpid(), "started_at": self._started_at, "updated_at": time.time(),
                "stopped": stopped, "watched": [files.display(p) for p in self.config.watch.paths],
                **(self.segmenters.describe() if self.segmenters is not None else {}),
                "review_url": self.review_server.url if self.review_server else None,
                "last_progress_age_s": round(time.monotonic() - health.last_progress, 1), **asdict(health)}
        try:
            files.write_atomic(Path(self.config.state_dir) / HEALTH_FILE, json.dumps(data).encode())
        except OSError:
            pass


def read_health(config: Config) -> dict | None:
    try:
        return json.loads((Path(config.state_dir) / HEALTH_FILE).read_text())
    except (OSError, ValueError):
        return None


def rebuild_journal(config: Config, intake: Intake) -> tuple[int, int]:
    """Record every photo in the watched folders again; one whose finished image
    is already in ``output.dir`` is adopted as done (not processed, not
    published again). Returns (adopted, queued)."""
    adopted = queued = 0
    candidates = candidates_for(config)
    for root in config.watch.paths:
        if not os.path.isdir(root):
            continue
        for path in scan(Path(root), candidates):
            try:
                recorded = intake.record(path)
            except OSError:
                continue
            if recorded is None or not recorded.created or recorded.duplicate_of is not None:
                continue
            job = recorded.job
            ext = config.category(job.category).profile.encode.extension
            output = output_folder(config, job.category, job.product_key) / files.fit_name(
                f"{Path(job.rel or job.path).stem}.{ext}")
            if output.is_file():
                intake.journal.set_state(job.id, DONE, output=str(output), actor="booth run --rebuild-journal",
                                         note="adopted: its finished image was already there (not published again)")
                adopted += 1
            else:
                queued += 1
    return adopted, queued
