"""The worker: journal jobs through bounded, overlapping stages.

    load (read + hash check + decode) -> segment (one instance) -> finish (+ confidence, + write) -> publish

A dispatcher thread claims due jobs from the journal and feeds a
``StagePipeline`` whose capacity is ``workers.max_in_memory``. Each run ends in
one outcome (``daemon.outcomes``), announced as one event that the journal
writer, the log and the metrics subscribe to. What an error leads to is read
off its type (``daemon.errors.verdict``): a bad photo is quarantined at once, a
transient failure waits with capped backoff for as long as it takes, an
unexpected one is retried ``workers.max_attempts`` times.

A finished cut-out that the review gate holds is written (so a person can see
it) but not published; its job waits in ``needs_review`` (kind ``cutout``)
until ``approve`` requeues it at the publish step, or ``reject`` sets it aside.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from daemon import events as ev
from daemon import files
from daemon.config import Config
from daemon.errors import OriginalUnreadable, OutputUnavailable, Superseded, Verdict, verdict
from daemon.journal import Checkpoint, Job, Journal, ReviewKind, State
from daemon.logging import get_logger
from daemon.outcomes import JournalWriter, Outcome, OutcomeLog
from daemon.runner import Finished, Plan, Runner
from daemon.stages import Stage, StagePipeline
from pipeline.errors import BadPhoto, PipelineError, TruncatedImage

ORPHAN_CHECK_SECONDS = 60.0  # how often jobs stuck "in flight" after a failed state write are looked for


class Publisher(Protocol):
    def publish(self, request, store): ...


def backoff(attempt: int, base: float, cap: float, rng: random.Random = random.Random()) -> float:
    """Exponential backoff with jitter: in [d/2, d] where d = min(cap, base * 2**(attempt-1))."""
    delay = min(cap, base * 2 ** max(0, min(attempt - 1, 60)))
    return delay / 2 + rng.uniform(0, delay / 2)


def output_folder(config: Config, category: str | None, product_key: str | None) -> Path:
    """``output.dir/<category>/<product>``: where a photo's finished image goes."""
    return Path(config.output.dir) / files.safe_name(category or "default") / files.safe_name(
        product_key or "unsorted")


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, in the words the journal and the log keep."""
    if isinstance(exc, BadPhoto):
        return f"{exc.reason}: {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {files.display(exc.filename)}" if exc.filename else "")
    return str(exc) or type(exc).__name__


# ----------------------------------------------------------------------- the worker

@dataclass
class _Work:
    """One job on its way through the stages (the pipeline's item and payload)."""

    job: Job
    log: Any
    plan: Plan | None = None
    photo: Any = None
    segmentation: Any = None
    finished: Finished | None = None
    output: Path | None = None
    held: tuple[ReviewKind, str] | None = None  # why it waits for a person
    grouped: bool = False  # measured, waits for its product's other views
    changes: dict[str, Any] = field(default_factory=dict)  # journal columns the outcome sets
    timings: dict[str, float] = field(default_factory=dict)


class Worker:
    def __init__(self, config: Config, journal: Journal, runner: Runner, events: ev.Events, *,
                 publisher: Publisher | None = None, thumbnails=None,
                 on_superseded: Callable[[Path], None] = lambda path: None, poll_seconds: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config  # replaced on reload; read once per job
        self.runner = runner
        self._journal = journal
        self._events = events
        self._publisher = publisher
        self._thumbnails = thumbnails
        self._on_superseded = on_superseded
        self._poll = poll_seconds
        self._clock = clock
        self._next_orphan_check = time.monotonic() + ORPHAN_CHECK_SECONDS
        self._cond = threading.Condition()
        self._stopping = False
        self._in_flight: set[int] = set()
        self._reserved: dict[Path, int] = {}  # output path -> job id, while a job writes it
        self._lock = threading.Lock()
        self.last_progress = time.monotonic()
        self.last_done: str | None = None
        self._log = get_logger("worker")
        JournalWriter(journal).subscribe(events)
        OutcomeLog().subscribe(events)
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
            self._journal.set_state(job_id, State.WAITING, note="stopped before it finished")
        return drained

    # ------------------------------------------------------------------ dispatching

    def _dispatch(self) -> None:
        while not self._stopping and not self._journal.closed:
            try:
                fed = self._feed()
            except Exception:  # noqa: BLE001 - e.g. the journal busy for a moment
                if self._journal.closed:
                    return
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
        return max(0.01, min(self._poll, retry - self._clock()))

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
        self._release_sets()
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
                    self._journal.set_state(job.id, State.WAITING)
                    return fed
            fed += 1
            self._events.emit(ev.QUEUE_DEPTH, depth=self.queue_depth)
        return fed

    def _release(self, job_id: int) -> None:
        with self._lock:
            self._in_flight.discard(job_id)
            for path in [p for p, owner in self._reserved.items() if owner == job_id]:
                del self._reserved[path]

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
        if work.job.publish_only:
            return work
        with self._stage(work, "load"):
            job = work.job
            work.plan = self.runner.plan(job.category, job.overrides)
            try:
                data = self.runner.read(job.file, work.plan)
            except FileNotFoundError:
                raise Superseded("the original is gone") from None
            except OSError as exc:
                raise OriginalUnreadable(f"cannot read the original: {describe(exc)} (the daemon's user needs "
                                         "read access to it and its folder)") from None
            if hashlib.sha256(data).hexdigest() != job.sha256:
                raise Superseded("the original changed after it settled")
            work.photo = self.runner.load(data, work.plan)
        return work

    def _segment(self, work: _Work) -> _Work:
        if work.job.publish_only:
            return work
        with self._stage(work, "segment"):
            work.segmentation = self.runner.cut(work.photo, work.plan)
        return work

    def _finish_stage(self, work: _Work) -> _Work:
        job = work.job
        if job.publish_only:
            work.output = Path(job.output or "")
            return work
        with self._stage(work, "finish"):
            scale = None
            if work.plan.profile.compose.scale == "product":
                own = self.runner.own_scale(work.photo, work.segmentation, work.plan)
                work.changes["own_scale"] = own
                scale = self._place_in_set(job, own)
                if scale is None:
                    work.grouped = True
                    work.photo = work.segmentation = None
                    return work
                work.changes["set_scale"] = scale
            finished = self.runner.finish(work.photo, work.segmentation, work.plan, job.fields,
                                          asked=bool(job.overrides), scale=scale)
            for key, ms in (finished.result.timings or {}).items():
                work.timings[f"finish.{key}"] = round(float(ms), 1)
            output = self._output_path(job, finished.result.extension)
            replaced = self._keep_previous(job, output)
            try:
                files.write_atomic(output, finished.result.encoded)
            except OSError as exc:
                raise OutputUnavailable(f"cannot write {output}: {describe(exc)}") from exc
            self._thumbnail(work, finished)
            work.photo = work.segmentation = None  # the memory bound counts photos, not references
            work.output = output
            work.changes.update(output=str(output), confidence=round(finished.assessment.confidence, 4),
                                reasons=list(finished.reasons or finished.assessment.reasons))
            if replaced is not None:
                work.changes["replaces"] = replaced
            self._events.emit(ev.CONFIDENCE, job_id=job.id, confidence=finished.assessment.confidence,
                              verdict=finished.verdict)
            if finished.reasons:
                work.held = (ReviewKind.CUTOUT, "; ".join(finished.reasons))
            elif self._publisher is not None:  # checkpoint: a restart only publishes
                self._emit(ev.JOB_FINISHED, work, State.PUBLISHING, where="finish", stage=Checkpoint.PUBLISH,
                           timings=work.timings, **work.changes)
        return work

    def _thumbnail(self, work: _Work, finished: Finished) -> None:
        if self._thumbnails is None:
            return
        try:
            self._thumbnails.make(work.job.id, finished)
        except Exception as exc:  # noqa: BLE001 - a missing preview must not fail the photo
            work.log.warning("could not make the review thumbnails", error=describe(exc))

    # ------------------------------------------------------------------ product sets

    def _place_in_set(self, job: Job, own: float) -> float | None:
        """The scale to render this view at (its product's), or None while the
        product's views are still arriving. A view that needs a smaller scale
        than the product was rendered at makes it the product's, and the other
        views are rendered again."""
        scale = self._journal.set_scale(job.category, job.product_key)
        if scale is None:
            return None
        if own < scale - 1e-9:
            with self._lock:
                busy = set(self._in_flight) - {job.id}
            again = self._journal.shrink_set(job.category, job.product_key, own, keep=busy)
            self._log.info("a later view needs a smaller scale: the product's other views are rendered again",
                           product_key=job.product_key, category=job.category, scale=round(own, 4),
                           was=round(scale, 4), jobs=again)
            return own
        return scale

    def _release_sets(self) -> int:
        """Render the products whose views are all in, or that got no new view for
        ``product_settle_seconds``, at the smallest scale any of their views needs."""
        released = 0
        for category_name, product_key, last_view in self._journal.grouping():
            category = self.config.category(category_name)
            members = self._journal.set_members(category_name, product_key)
            waiting = [m for m in members if m.state == State.GROUPING]
            seen = {(m.view or "").casefold() for m in members if m.own_scale is not None}
            complete = bool(category.views) and {v.casefold() for v in category.views} <= seen
            if not waiting or not (complete or self._clock() - last_view >= category.product_settle_seconds):
                continue
            if any(m.state in (State.WAITING, State.PROCESSING) and m.own_scale is None for m in members):
                continue  # a view still being measured: it decides the scale too
            scale = min(m.own_scale for m in members if m.own_scale is not None)
            queued = self._journal.release_set(category_name, product_key, scale)
            self._log.info("a product's views are rendered at one scale", category=category_name,
                           product_key=product_key, views=len(members), scale=round(scale, 4),
                           complete=complete, queued=queued)
            released += queued
        return released

    def _publish(self, work: _Work) -> _Work:
        if work.held is not None or work.grouped:
            return work
        with self._stage(work, "publish"):
            from integrations.shopify.publish import NeedsReview, PublishRequest

            job = work.job
            category = self.config.category(job.category)
            try:
                data = work.output.read_bytes() if work.output else None
            except OSError:
                data = None
            if data is None:
                raise OutputUnavailable(f"the finished image {work.output} is gone")
            order = category.view_order(job.view)  # a category's listed views set the order on the product page
            request = PublishRequest(
                job_id=str(job.id), image_path=work.output, image_sha256=hashlib.sha256(data).hexdigest(),
                category=category.name, product_key=job.product_key or "", view=job.view,
                index=order if order is not None else job.index, fields=dict(job.fields), params=category.publish)
            result = self._publisher.publish(request, self._progress(job.id))
            if isinstance(result, NeedsReview):
                work.held = (ReviewKind.PRODUCT, result.reason)
        return work

    def _progress(self, job_id: int):
        """The job's publish progress, kept in the journal."""
        from integrations.shopify.progress import DictProgressStore

        return DictProgressStore(lambda: self._journal.remote(job_id),
                                 lambda data: self._journal.set_remote(job_id, data))

    def _output_path(self, job: Job, extension: str) -> Path:
        ext = extension if extension.startswith(".") else f".{extension}"
        folder = output_folder(self.config, job.category, job.product_key)
        stem = Path(job.rel or job.path).stem
        path, n = folder / files.fit_name(f"{stem}{ext}"), 1
        with self._lock:
            # Same name from a different original: keep both. The same original's
            # older version (or a run cut short by a crash) is replaced.
            while (self._reserved.get(path, job.id) != job.id
                   or self._journal.output_owner(path, other_than=job.path) is not None):
                n += 1
                path = folder / files.fit_name(f"{stem}-{n}{ext}")
            self._reserved[path] = job.id
        return path

    def _keep_previous(self, job: Job, output: Path) -> int | None:
        """Before ``output`` is overwritten (a new version of the original, a
        reprocess, a redo), keep what is there in ``state_dir/history`` so
        ``booth restore`` can put it back. Returns the job that wrote it, when
        another one did."""
        if not output.is_file():
            return None
        writer = self._journal.previous_writer(output, other_than=job.id)
        owner = writer.id if writer is not None else job.id
        kept = files.free_path(Path(self.config.state_dir) / "history" / str(owner) / output.name)
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(output, kept)
        except OSError as exc:
            raise OutputUnavailable(f"cannot keep the previous {output.name} in {kept.parent}: "
                                    f"{describe(exc)}") from exc
        self._journal.set_state(job.id, State.PROCESSING, note="previous output kept",
                                detail={"kept": str(kept), "output": str(output), "writer": owner})
        return writer.id if writer is not None else None

    # ------------------------------------------------------------------ outcomes

    def _emit(self, event: str, work: _Work, state: State | None, *, error: str | None = None,
              where: str = "", fields: dict | None = None, **changes: Any) -> None:
        """Announce the run's outcome; the journal writer records ``state`` and ``changes``."""
        self._events.emit(event, outcome=Outcome(event, work.job, state, where, error, changes, fields or {}))

    def _done(self, work: _Work, _result: Any) -> None:
        job = work.job
        try:
            if work.grouped:
                self._emit(ev.JOB_GROUPED, work, State.GROUPING, where="finish", timings=work.timings,
                           fields={"own_scale": round(work.changes["own_scale"], 4)}, **work.changes)
                return
            if work.held is not None:
                kind, reason = work.held
                self._emit(ev.JOB_HELD, work, State.NEEDS_REVIEW, error=reason, where="review",
                           fields={"review_kind": str(kind), "output": str(work.output)}, review_kind=kind,
                           stage=Checkpoint.PUBLISH, timings=work.timings, **work.changes)
                return
            total = round(sum(v for k, v in work.timings.items() if "." not in k), 1)
            self._emit(ev.JOB_DONE, work, State.DONE, where="done",
                       fields={"output": str(work.output), "ms": work.timings, "total_ms": total},
                       stage=Checkpoint.LOAD, timings=work.timings,
                       **{**work.changes, "output": str(work.output)})
            self.last_done = job.path
            self._after_success(work)
        finally:
            self._release(job.id)
            self._events.emit(ev.QUEUE_DEPTH, depth=self.queue_depth)
            self.wake()

    def _after_success(self, work: _Work) -> None:
        job, mode = work.job, self.config.after_success
        original = job.file
        if mode == "keep" or not original.exists():
            return
        if not files.still_the_same(original, size=job.size, mtime_ns=job.mtime_ns, sha256=job.sha256):
            work.log.info("a newer version was saved under the original's name; left in place for its own job",
                          after_success=mode)
            return
        try:
            if mode == "archive":
                dest = files.move(original, Path(self.config.archive_dir) / (job.rel or original.name))
                work.log.info("original archived", archived_to=str(dest))
            else:
                original.unlink(missing_ok=True)
        except OSError as exc:
            work.log.warning("could not tidy the original", after_success=mode, error=describe(exc))

    def _failed(self, work: _Work, stage: str, exc: BaseException) -> None:
        job = work.job
        self.last_progress = time.monotonic()  # a finished attempt is progress too
        try:
            attempts = job.attempts + 1
            action = verdict(exc, attempts, self.config.workers.max_attempts)
            error = describe(exc)
            kind = type(exc).__name__
            if action is Verdict.FORGET:
                self._forget(work, stage, error, kind, attempts)
            elif action in (Verdict.RETRY, Verdict.WAIT):
                delay = self._retry_delay(exc, attempts)
                self._emit(ev.JOB_RETRYING, work, State.RETRYING, error=error, where=stage,
                           fields={"error_type": kind, "attempt": attempts, "retry_in_s": round(delay, 2),
                                   "transient": action is Verdict.WAIT,
                                   **({"exc_info": exc} if action is Verdict.RETRY
                                      and not isinstance(exc, PipelineError) else {})},
                           error_type=kind, attempts=attempts, next_attempt_at=self._clock() + delay,
                           timings=work.timings, **work.changes)
            elif action is Verdict.REVIEW:
                self._emit(ev.JOB_HELD, work, State.NEEDS_REVIEW, error=error, where=stage,
                           fields={"review_kind": str(ReviewKind.PRODUCT)}, error_type=kind, attempts=attempts,
                           review_kind=ReviewKind.PRODUCT, timings=work.timings, **work.changes)
            else:
                self._quarantine(work, stage, error, kind, attempts)
        finally:
            self._release(job.id)
            self._events.emit(ev.QUEUE_DEPTH, depth=self.queue_depth)
            self.wake()

    def _forget(self, work: _Work, stage: str, error: str, kind: str, attempts: int) -> None:
        job = work.job
        if self._journal.forget(job.id):
            self._emit(ev.JOB_FORGOTTEN, work, None, error=error, where=stage)
        else:  # run before (an output, Shopify ids): keep the record, a person decides
            self._emit(ev.JOB_HELD, work, State.NEEDS_REVIEW, error=f"not run again: {error}", where=stage,
                       fields={"reason": "the original changed or vanished before it could be run again"},
                       error_type=kind, attempts=attempts, review_kind=ReviewKind.PRODUCT)
        self._on_superseded(job.file)

    def _retry_delay(self, exc: BaseException, attempts: int) -> float:
        w = self.config.workers
        if isinstance(exc, TruncatedImage):
            return max(2 * self.config.watch.settle_seconds, 1.0)
        return backoff(attempts, w.retry_base_seconds, w.retry_max_seconds)

    def _quarantine(self, work: _Work, stage: str, error: str, kind: str, attempts: int) -> None:
        """Set a photo that can never succeed aside, with a note saying why. The
        journal learns where the original goes before it goes: a crash in
        between leaves it in the inbox under a quarantined job (``booth retry``
        puts that right), never a file in quarantine that no job knows about."""
        job = work.job
        original = job.file
        target = Path(self.config.quarantine) / (job.rel or original.name)
        dest = None
        if not job.publish_only and files.still_the_same(original, size=job.size, mtime_ns=job.mtime_ns,
                                                         sha256=job.sha256):
            dest = files.free_path(target)
        self._emit(ev.JOB_QUARANTINED, work, State.QUARANTINED, error=error, where=stage,
                   fields={"error_type": kind, "quarantined_to": str(dest) if dest else None},
                   error_type=kind, attempts=attempts, quarantined_to=str(dest) if dest else None,
                   timings=work.timings, **{k: v for k, v in work.changes.items() if k != "output"})
        moved = None
        if dest is not None:
            try:
                moved = files.move(original, dest)
            except OSError as exc:
                work.log.error("could not move the original to quarantine; left in place",
                               reason=error, error=describe(exc), fix="check the original's folder is writable "
                               "and the quarantine folder has space")
                self._journal.set_state(job.id, State.QUARANTINED, error=error, quarantined_to=None,
                                        note=f"left in place: {describe(exc)}")
        note_path = files.beside(moved, ".error.json") if moved else files.beside(
            target.with_name(f"{target.name}.job{job.id}"), ".error.json")
        note = {"job_id": job.id, "path": job.path, "sha256": job.sha256, "reason": error,
                "error_type": kind, "stage": stage, "attempts": attempts,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock())),
                "quarantined_to": str(moved) if moved else None,
                "left_in_place": None if moved else job.path}
        try:
            files.write_atomic(files.free_path(note_path), json.dumps(note, indent=2).encode())
        except OSError as exc:
            work.log.error("could not write the quarantine note", note=str(note_path), error=describe(exc))
