"""The worker: journal jobs through bounded, overlapping stages.

    load (read + hash check + decode) -> segment (one instance) -> finish (+ encode + atomic write) -> publish

A dispatcher thread claims due jobs from the journal and feeds a
``StagePipeline`` whose capacity is ``workers.max_in_memory``. Outcomes are read
off the exception type, never off message strings:

- ``BadPhoto`` (and an output that cannot be made small enough): quarantine now;
- a file caught mid-write whose bytes have changed since intake: forget this
  version, the new bytes come back through intake;
- ``PublishError(permanent=True)`` or a ``NeedsReview`` answer: ``needs_review``;
- anything else (disk full, output not writable, a network error): ``failed``,
  retried with exponential backoff and jitter, quarantined after
  ``workers.max_attempts``.

Nothing is deleted on failure. The worker announces lifecycle events; logging
and the journal are written here, everything else subscribes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pipeline
from daemon import events as ev
from daemon.config import Config
from daemon.journal import DONE, FAILED, NEEDS_REVIEW, PUBLISHING, QUARANTINED, WAITING, Job, Journal, RemoteIds
from daemon.logging import get_logger
from daemon.stages import Stage, StagePipeline
from integrations.shopify.publish import NeedsReview, PublishRequest, Published
from pipeline import encode
from pipeline.errors import BadPhoto, OutputTooLarge, TruncatedImage


class Publisher(Protocol):
    def publish(self, request: PublishRequest, ids: RemoteIds) -> Published | NeedsReview: ...


# ----------------------------------------------------------------------- errors

class JobError(Exception):
    """Root of the worker's own errors; ``permanent`` ones are not retried."""

    permanent = False


class Superseded(JobError):
    """The original changed (or vanished) after intake: this version never settled."""


class OutputUnavailable(JobError):
    """The output folder cannot be written (missing, not a folder, full); retried."""


ORPHAN_CHECK_SECONDS = 60.0  # how often jobs stuck "in flight" after a failed state write are looked for


def verdict(exc: BaseException, attempts: int, max_attempts: int) -> str:
    """What to do after a stage raised: quarantine, retry, review or forget."""
    if isinstance(exc, Superseded):
        return "forget"
    if isinstance(exc, TruncatedImage) and attempts <= 1:
        return "retry"  # perhaps still being written after a long pause: look once more
    if isinstance(exc, (BadPhoto, OutputTooLarge)):
        return "quarantine"
    if getattr(exc, "permanent", None) is True:
        return "review"  # the photo is fine; the shop needs a person (scope, product state...)
    return "retry" if attempts < max_attempts else "quarantine"


def backoff(attempt: int, base: float, cap: float, rng: random.Random = random.Random()) -> float:
    """Exponential backoff with jitter: in [d/2, d] where d = min(cap, base * 2**(attempt-1))."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


# ----------------------------------------------------------------------- files

_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


def safe_name(text: str, limit: int = 120) -> str:
    """A product key as one folder name: no separators or characters Windows shares refuse."""
    name = _UNSAFE.sub("_", text).strip(" .")
    return name[:limit].rstrip(" .") or "_"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` is either absent/old or complete, never half-written."""
    try:
        encode.write_atomic(path, data)
    except OSError as exc:
        raise OutputUnavailable(f"cannot write {path}: {exc.strerror or exc}") from exc


_TEMP = re.compile(r"^\..+\.(\d+)\.\d+\.tmp$")


def sweep_temp_files(folder: Path) -> int:
    """Remove half-written temp files that a killed process of ours left behind."""
    removed = 0
    for path in Path(folder).rglob(".*.tmp") if Path(folder).is_dir() else ():
        m = _TEMP.match(path.name)
        if m and not _pid_alive(int(m.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a previous life of this very pid (containers reuse low pids)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def still_the_same(job: Job, path: Path) -> bool:
    """Whether ``path`` still holds the bytes ``job`` was made from. A booth that
    saves a reshoot under the same name must not see the new version archived,
    deleted or quarantined in place of the old one."""
    try:
        st = path.stat()
        if job.size is not None and job.mtime_ns is not None and (st.st_size, st.st_mtime_ns) == (job.size,
                                                                                                job.mtime_ns):
            return True
        return sha256_file(path) == job.sha256
    except OSError:
        return False


def free_path(path: Path) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext``... whichever does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def move(src: Path, dest: Path) -> Path:
    """Move ``src`` to a free name at ``dest`` (across filesystems too); returns where it went."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest = free_path(dest)
    shutil.move(str(src), str(dest))
    return dest


# ----------------------------------------------------------------------- the worker

@dataclass
class _Work:
    """One job on its way through the stages (the pipeline's item and payload)."""

    job: Job
    log: Any
    photo: Any = None
    segmentation: Any = None
    output: Path | None = None
    review: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def publish_only(self) -> bool:
        return self.job.stage == "publish"


class Worker:
    def __init__(self, config: Config, journal: Journal, segmenter, events: ev.Events, *,
                 publisher: Publisher | None = None, finish: Callable = pipeline.finish,
                 on_superseded: Callable[[Path], None] = lambda path: None, poll_seconds: float = 2.0) -> None:
        self.config = config  # replaced on reload; read once per job
        self._journal = journal
        self._segmenter = segmenter  # swapped by use_segmenter on reload; read once per job
        self._events = events
        self._publisher = publisher
        self._finish = finish
        self._on_superseded = on_superseded
        self._poll = poll_seconds
        self._next_orphan_check = time.monotonic() + ORPHAN_CHECK_SECONDS
        self._cond = threading.Condition()
        self._stopping = False
        self._in_flight: set[int] = set()
        self._reserved: dict[Path, int] = {}  # output path -> job id, while a job writes it
        self._lock = threading.Lock()
        self.last_progress = time.monotonic()
        self.last_done: str | None = None
        self._log = get_logger("worker")
        self._pipeline = StagePipeline(self._stages(), capacity=config.workers.max_in_memory,
                                       on_done=self._done, on_error=self._failed)
        self._dispatcher = threading.Thread(target=self._dispatch, name="dispatcher", daemon=True)

    def _stages(self) -> list[Stage]:
        w = self.config.workers
        stages = [Stage("load", self._load, w.decode), Stage("segment", self._segment, 1),
                  Stage("finish", self._finish_stage, w.finish)]
        if self._publisher is not None:
            stages.append(Stage("publish", self._publish, w.publish))
        return stages

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._dispatcher.start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    @property
    def alive(self) -> bool:
        return self._dispatcher.is_alive() and self._pipeline.alive

    @property
    def queue_depth(self) -> int:
        """Jobs queued or in flight (a journal count: ``booth reprocess`` adds some too)."""
        try:
            return self._journal.queued()
        except Exception:  # noqa: BLE001 - the journal closed under a late event
            return len(self._in_flight)

    @property
    def idle(self) -> bool:
        return not self._in_flight

    def stop(self, timeout: float) -> bool:
        """Stop taking jobs, drain the in-flight ones, put back whatever did not finish."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._dispatcher.join(timeout=5)
        drained = self._pipeline.close(timeout)
        with self._lock:
            left = list(self._in_flight)
        for job_id in left:  # checkpoint: they start again (from their stage) next time
            self._journal.set_state(job_id, WAITING)
        return drained

    # ------------------------------------------------------------------ dispatching

    def _dispatch(self) -> None:
        while not self._stopping:
            try:
                fed = self._feed()
            except Exception:  # noqa: BLE001 - e.g. the journal busy for a moment
                self._log.exception("dispatch failed")
                fed = 0
            if fed:
                continue
            with self._cond:
                if self._stopping:
                    return
                self._cond.wait(self._sleep_time())

    def _sleep_time(self) -> float:
        try:
            retry = self._journal.next_retry_at()
        except Exception:  # noqa: BLE001 - the journal busy for a moment must not end dispatching
            self._log.exception("could not read the next retry time")
            return self._poll
        if retry is None:
            return self._poll
        return max(0.01, min(self._poll, retry - time.time()))

    def _feed(self) -> int:
        now = time.monotonic()
        if now >= self._next_orphan_check:
            # Same thread as the claims below, so a job claimed but not yet marked
            # in flight cannot be mistaken for an orphan.
            self._next_orphan_check = now + ORPHAN_CHECK_SECONDS
            with self._lock:
                mine = set(self._in_flight)
            if orphans := self._journal.recover(keep=mine):
                self._log.warning("jobs marked in flight but not being worked on are queued again "
                                  "(a state write failed earlier)", jobs=orphans)
        fed = 0
        for job in self._journal.due(limit=4 * self.config.workers.max_in_memory):
            if self._stopping:
                break
            with self._lock:
                if job.id in self._in_flight:
                    continue
            if not self._journal.claim(job.id):
                continue
            job = self._journal.get(job.id)
            with self._lock:
                self._in_flight.add(job.id)
            work = _Work(job, get_logger("job", job_id=job.id, path=job.path, category=job.category,
                                         product_key=job.product_key))
            while not self._pipeline.try_submit(work, timeout=0.5):
                if self._stopping:
                    self._release(job.id)
                    self._journal.set_state(job.id, WAITING)
                    return fed
            fed += 1
            self._events.emit(ev.QUEUE_DEPTH, depth=self.queue_depth)
        return fed

    def _release(self, job_id: int) -> None:
        with self._lock:
            self._in_flight.discard(job_id)
            for path in [p for p, owner in self._reserved.items() if owner == job_id]:
                del self._reserved[path]

    @property
    def segmenter(self):
        return self._segmenter

    def use_segmenter(self, segmenter) -> None:
        """Cut out the next photos with ``segmenter`` (a reload). A photo already in
        the segment stage finishes on the old one, which is freed after it."""
        self._segmenter = segmenter

    # ------------------------------------------------------------------ stages

    @contextmanager
    def _stage(self, work: _Work, name: str):
        start = time.perf_counter()
        work.log = work.log.bind(stage=name)
        yield
        ms = round((time.perf_counter() - start) * 1000, 1)
        work.timings[name] = ms
        self.last_progress = time.monotonic()
        self._events.emit(ev.STAGE_DONE, job_id=work.job.id, stage=name, ms=ms)

    def _load(self, work: _Work) -> _Work:
        if work.publish_only:
            return work
        with self._stage(work, "load"):
            job = work.job
            try:
                data = Path(job.path).read_bytes()
            except FileNotFoundError:
                raise Superseded("the original is gone") from None
            if hashlib.sha256(data).hexdigest() != job.sha256:
                raise Superseded("the original changed after it settled")
            profile = self.config.category(job.category).profile
            work.photo = pipeline.load_photo(data, profile.load)
        return work

    def _segment(self, work: _Work) -> _Work:
        if work.publish_only:
            return work
        with self._stage(work, "segment"):
            work.segmentation = self._segmenter.segment(work.photo.rgb)
        return work

    def _finish_stage(self, work: _Work) -> _Work:
        if work.publish_only:
            work.output = Path(work.job.output or "")
            return work
        with self._stage(work, "finish"):
            job = work.job
            profile = self.config.category(job.category).profile
            result = self._finish(work.photo, work.segmentation, profile, job.fields)
            work.photo = work.segmentation = None  # the memory bound counts photos, not references
            for key, ms in (result.timings or {}).items():
                work.timings[f"finish.{key}"] = round(float(ms), 1)
            output = self._output_path(job, result.extension)
            write_atomic(output, result.encoded)
            work.output = output
            if self._publisher is not None:  # checkpoint: a restart only publishes
                self._journal.set_state(job.id, PUBLISHING, stage="publish", output=str(output),
                                        timings=work.timings)
        return work

    def _publish(self, work: _Work) -> _Work:
        with self._stage(work, "publish"):
            job = work.job
            category = self.config.category(job.category)
            data = work.output.read_bytes() if work.output and work.output.exists() else None
            if data is None:
                raise OutputUnavailable(f"the finished image {work.output} is gone")
            request = PublishRequest(
                job_id=str(job.id), image_path=work.output, image_sha256=hashlib.sha256(data).hexdigest(),
                category=category.name, product_key=job.product_key or "", view=job.view, index=job.index,
                fields=dict(job.fields), params=category.publish)
            result = self._publisher.publish(request, self._journal.remote_ids(job.id))
            if isinstance(result, NeedsReview) or type(result).__name__ == "NeedsReview":
                work.review = str(getattr(result, "reason", result))
        return work

    def _output_path(self, job: Job, extension: str) -> Path:
        ext = extension if extension.startswith(".") else f".{extension}"
        folder = Path(self.config.output.dir) / safe_name(job.category or "default") / safe_name(
            job.product_key or "unsorted")
        stem = Path(job.rel or job.path).stem
        path, n = folder / f"{stem}{ext}", 1
        with self._lock:
            # Same name from a different original: keep both. The same original's
            # older version (or a run cut short by a crash) is replaced.
            while (self._reserved.get(path, job.id) != job.id
                   or self._journal.output_owner(path, other_than=job.path) is not None):
                n += 1
                path = folder / f"{stem}-{n}{ext}"
            self._reserved[path] = job.id
        return path

    # ------------------------------------------------------------------ outcomes

    def _done(self, work: _Work, _result: Any) -> None:
        job = work.job
        try:
            if work.review is not None:
                self._journal.set_state(job.id, NEEDS_REVIEW, error=work.review, output=str(work.output),
                                        timings=work.timings, stage="publish")
                work.log.warning("needs review", reason=work.review)
                return
            self._journal.set_state(job.id, DONE, output=str(work.output), timings=work.timings, stage="load")
            self.last_done = job.path
            total = round(sum(v for k, v in work.timings.items() if "." not in k), 1)
            work.log.bind(stage="done").info("job done", output=str(work.output), ms=work.timings, total_ms=total)
            self._events.emit(ev.JOB_DONE, job_id=job.id, path=job.path, output=str(work.output), ms=work.timings)
            self._after_success(work)
        finally:
            self._release(job.id)
            self._events.emit(ev.QUEUE_DEPTH, depth=self.queue_depth)
            self.wake()

    def _after_success(self, work: _Work) -> None:
        job, mode = work.job, self.config.after_success
        original = Path(job.path)
        if mode == "keep" or not original.exists():
            return
        if not still_the_same(job, original):
            work.log.info("a newer version was saved under the original's name; left in place for its own job",
                          after_success=mode)
            return
        try:
            if mode == "archive":
                dest = move(original, Path(self.config.archive_dir) / (job.rel or original.name))
                work.log.info("original archived", archived_to=str(dest))
            else:
                original.unlink(missing_ok=True)
        except OSError as exc:
            work.log.warning("could not tidy the original", after_success=mode, error=str(exc))

    def _failed(self, work: _Work, stage: str, exc: BaseException) -> None:
        job = work.job
        log = work.log.bind(stage=stage)
        self.last_progress = time.monotonic()  # a finished attempt is progress too
        try:
            attempts = job.attempts + 1
            action = verdict(exc, attempts, self.config.workers.max_attempts)
            error = f"{getattr(exc, 'reason', type(exc).__name__)}: {exc}" if isinstance(exc, BadPhoto) else str(exc)
            error = error or type(exc).__name__
            permanent = action in ("quarantine", "review")
            self._events.emit(ev.JOB_FAILED, job_id=job.id, path=job.path, error=error, permanent=permanent,
                              attempt=attempts)
            if action == "forget":
                if self._journal.forget(job.id):
                    log.info("original changed or vanished before it was finished; taking the new version",
                             reason=error)
                else:  # run before (an output, Shopify ids): keep the record, a person decides
                    self._journal.set_state(job.id, NEEDS_REVIEW, error=f"not run again: {error}",
                                            error_type=type(exc).__name__, attempts=attempts)
                    log.warning("needs review: the original changed or vanished before it could be run again",
                                reason=error)
                self._on_superseded(Path(job.path))
            elif action == "retry":
                delay = self._retry_delay(exc, attempts)
                self._journal.set_state(job.id, FAILED, error=error, error_type=type(exc).__name__,
                                        attempts=attempts, next_attempt_at=time.time() + delay,
                                        timings=work.timings)
                log.warning("job failed, will retry", error=error, error_type=type(exc).__name__,
                            attempt=attempts, retry_in_s=round(delay, 2),
                            exc_info=not isinstance(exc, (OSError, JobError, pipeline.PipelineError)))
            elif action == "review":
                self._journal.set_state(job.id, NEEDS_REVIEW, error=error, error_type=type(exc).__name__,
                                        attempts=attempts, timings=work.timings)
                log.warning("needs review", error=error)
            else:
                self._quarantine(work, stage, exc, error, attempts)
        finally:
            self._release(job.id)
            self._events.emit(ev.QUEUE_DEPTH, depth=self.queue_depth)
            self.wake()

    def _retry_delay(self, exc: BaseException, attempts: int) -> float:
        w = self.config.workers
        if isinstance(exc, TruncatedImage):
            return max(2 * self.config.watch.settle_seconds, 1.0)
        return backoff(attempts, w.retry_base_seconds, w.retry_max_seconds)

    def _quarantine(self, work: _Work, stage: str, exc: BaseException, error: str, attempts: int) -> None:
        job = work.job
        original = Path(job.path)
        target = Path(self.config.quarantine) / (job.rel or original.name)
        moved: Path | None = None
        try:
            if job.stage != "publish" and still_the_same(job, original):
                # The journal learns where the original goes before it goes: a crash
                # in between leaves it in the inbox under a quarantined job (found by
                # `booth jobs --state quarantined`, put right by `booth retry`), never
                # a file in quarantine that no job knows about.
                target.parent.mkdir(parents=True, exist_ok=True)
                dest = free_path(target)
                self._journal.set_state(job.id, QUARANTINED, error=error, error_type=type(exc).__name__,
                                        attempts=attempts, quarantined_to=str(dest), timings=work.timings)
                shutil.move(str(original), str(dest))
                moved = dest
            note = free_path(moved.with_name(moved.name + ".error.json") if moved
                             else target.with_name(f"{target.name}.job{job.id}.error.json"))
            write_atomic(note, json.dumps({
                "job_id": job.id, "path": job.path, "sha256": job.sha256, "reason": error,
                "error_type": type(exc).__name__, "stage": stage, "attempts": attempts,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "quarantined_to": str(moved) if moved else None,
            }, indent=2).encode())
        except (OSError, JobError) as move_error:
            work.log.error("could not move the original to quarantine; left in place", error=str(move_error))
        self._journal.set_state(job.id, QUARANTINED, error=error, error_type=type(exc).__name__,
                                attempts=attempts, quarantined_to=str(moved) if moved else None,
                                timings=work.timings)
        work.log.bind(stage=stage).error("quarantined", reason=error, error_type=type(exc).__name__,
                                         quarantined_to=str(moved) if moved else None)
