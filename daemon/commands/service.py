"""booth run / status / jobs / job / retry / reprocess / restore"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from daemon.cli import load_or_report

STATE_NAMES = ("waiting", "processing", "publishing", "done", "retrying", "quarantined", "needs_review", "rejected")


def register(sub) -> None:
    run = sub.add_parser("run", help="watch the hot folders and process every photo (the daemon)")
    run.add_argument("--config", help="config file (default: $BOOTH_CONFIG, ./config.yaml, /etc/booth/config.yaml)")
    run.add_argument("--dry-run", action="store_true",
                     help="log what would be published to Shopify instead of calling it")
    run.add_argument("--rebuild-journal", action="store_true",
                     help="the journal was lost: record the watched photos again and adopt the finished images "
                          "already in the output folder (they are not processed or published again)")
    run.set_defaults(func=run_command)

    status = sub.add_parser("status", help="jobs per state, throughput, failures, watch folders and photos not taken")
    status.add_argument("--config")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=status_command)

    jobs = sub.add_parser("jobs", help="list jobs, newest first")
    jobs.add_argument("--config")
    jobs.add_argument("--state", choices=STATE_NAMES + ("failed",))
    jobs.add_argument("--path", help="only jobs whose path contains this text")
    jobs.add_argument("--product", help="only jobs of this product key (or containing this text)")
    jobs.add_argument("--limit", type=int, default=100)
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(func=jobs_command)

    job = sub.add_parser("job", help="one job's whole story: states with times, outputs, Shopify ids, errors")
    job.add_argument("id", metavar="JOB", type=int)
    job.add_argument("--config")
    job.add_argument("--json", action="store_true")
    job.set_defaults(func=job_command)

    retry = sub.add_parser("retry", help="run retrying or quarantined jobs again now")
    retry.add_argument("--config")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("job", nargs="?", type=int, help="a job id")
    which.add_argument("--retrying", "--failed", dest="retrying", action="store_true",
                       help="every job waiting to be tried again")
    which.add_argument("--quarantined", action="store_true", help="every quarantined job (originals move back)")
    retry.set_defaults(func=retry_command)

    again = sub.add_parser("reprocess", help="process a photo (or every photo in a folder) again; "
                                              "the previous image is kept for booth restore")
    again.add_argument("--config")
    again.add_argument("path")
    again.set_defaults(func=reprocess_command)

    restore = sub.add_parser("restore", help="put back the finished image a reprocess or redo replaced")
    restore.add_argument("job", metavar="JOB", type=int)
    restore.add_argument("--config")
    restore.set_defaults(func=restore_command)


def _open_journal(config, *, readonly: bool = False):
    """The journal, or None after one line saying why it cannot be opened and what fixes it."""
    from daemon.journal import Journal, JournalError, NoJournalYet
    from daemon.service import journal_path

    try:
        return Journal(journal_path(config), readonly=readonly)
    except NoJournalYet as exc:
        print(f"booth: {exc}", file=sys.stderr)
        print("  fix: start the daemon (sudo systemctl start booth), or pass the config it runs with: "
              "--config /etc/booth/config.yaml", file=sys.stderr)
    except JournalError as exc:
        print(f"booth: {exc}", file=sys.stderr)
        print(f"  fix: run as the daemon's user (sudo -u booth booth ...), or make {config.state_dir} readable "
              "and writable by you", file=sys.stderr)
    return None


def _reading(args, read) -> int:
    """``read(config, journal)`` on the journal opened read-only; 2 for a bad
    config, 1 when the journal cannot be opened (after one line saying why)."""
    config = load_or_report(args.config)
    if config is None:
        return 2
    journal = _open_journal(config, readonly=True)
    if journal is None:
        return 1
    try:
        return read(config, journal)
    finally:
        journal.close()


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))


# ----------------------------------------------------------------------- run

def run_command(args) -> int:
    from daemon.logging import configure, get_logger

    config = load_or_report(args.config)
    if config is None:
        return 2
    configure(config.logging.level, config.logging.format)
    from daemon.config import ConfigError
    from daemon.journal import JournalError
    from daemon.service import AlreadyRunning, LostJournal, Service
    from pipeline.errors import PipelineError

    log = get_logger("service")
    hooks = []
    try:
        publisher = _publisher(config, dry_run=args.dry_run)
        hooks.append(publisher)
        service = Service(config, publisher=publisher, rebuild_journal=args.rebuild_journal)
        publisher.events = service.events
        hooks += _attach(config, service)
        return service.run()
    except ConfigError as exc:
        log.error("cannot start", error=str(exc))
        return 2
    except (JournalError, PipelineError, AlreadyRunning, LostJournal, OSError) as exc:
        log.error("cannot start", error=str(exc), error_type=type(exc).__name__)
        return 1
    finally:
        for hook in hooks:
            hook.close()


def _attach(config, service) -> list:
    """Subscribers to the service's lifecycle events: systemd notify/watchdog and metrics."""
    from daemon.metrics import start_metrics
    from daemon.notify import Notifier, attach

    return [attach(service.events, service.health, Notifier.from_env()),
            start_metrics(config.metrics, service.events,
                          review_counts=lambda: service.journal.review_counts() if service.journal else {})]


class _ReportingPublisher:
    """The Shopify publisher, announcing retries and the cost bucket's level
    as lifecycle events (metrics subscribe to them)."""

    def __init__(self, publisher) -> None:
        self._publisher = publisher
        self.events = None

    def publish(self, request, store):
        from daemon.events import THROTTLE
        try:
            return self._publisher.publish(request, store)
        finally:
            available, maximum = self._publisher.throttle()
            if self.events is not None and available is not None:
                self.events.emit(THROTTLE, available=available, maximum=maximum)

    def on_retry(self, operation: str) -> None:
        from daemon.events import RETRY
        if self.events is not None:
            self.events.emit(RETRY, operation=operation)

    def close(self) -> None:
        self._publisher.close()


def _publisher(config, dry_run: bool = False) -> _ReportingPublisher:
    """The Shopify publisher. With ``shopify.enabled: false`` or ``--dry-run`` it
    only logs what it would publish, so the publish step can be watched safely."""
    from daemon.config import ConfigError
    from daemon.logging import register_secret
    from integrations.shopify.publish import Publisher

    reporting = _ReportingPublisher(None)
    try:
        reporting._publisher = Publisher(config.shopify, on_secret=register_secret, dry_run=dry_run,
                                         on_retry=reporting.on_retry)
    except Exception as exc:  # noqa: BLE001 - e.g. no access token configured: say so and stop
        from daemon.logging import redact
        raise ConfigError(f"shopify: cannot set up the publisher: {redact(str(exc))}") from None
    return reporting


# ----------------------------------------------------------------------- status

def status_report(config, journal, now: float | None = None) -> dict:
    from daemon.files import pid_alive
    from daemon.journal import RETRYING
    from daemon.review import view_problems
    from daemon.service import read_health

    now = time.time() if now is None else now
    oldest = journal.oldest_waiting()
    health = read_health(config)
    running = bool(health and not health.get("stopped") and pid_alive(health.get("pid")))
    return {
        "counts": journal.counts(),
        "review": journal.review_counts(),
        "done_last_hour": journal.done_since(now - 3600),
        "oldest_waiting": None if oldest is None else {
            "job_id": oldest.id, "path": oldest.path, "age_s": round(now - oldest.created_at, 1),
            "state": str(oldest.state)},
        "retrying": [{"job_id": j.id, "path": j.path, "error": j.error, "attempts": j.attempts,
                      "next_attempt_in_s": round(max(0.0, j.next_attempt_at - now), 1)}
                     for j in journal.jobs(RETRYING, limit=10)],
        "last_failures": [{"job_id": j.id, "path": j.path, "state": str(j.state), "error": j.error,
                           "at": j.updated_at} for j in journal.last_failures(5)],
        "not_taken": [{"path": n.path, "reason": n.reason, "fix": n.fix, "since": n.first_seen}
                      for n in journal.notices()],
        "view_sets": view_problems(config, journal, now),
        "daemon": {"running": running, **(health or {})},
    }


def status_command(args) -> int:
    return _reading(args, lambda config, journal: _show_status(args, status_report(config, journal)))


def _show_status(args, report: dict) -> int:
    if args.json:
        _print_json(report)
        return 0
    for line in status_lines(report):
        print(line)
    return 0


def status_lines(report: dict) -> list[str]:
    d = report["daemon"]
    lines = []
    if d["running"]:
        roots = d.get("roots") or []
        down = [r for r in roots if not r.get("ok")]
        watcher = "ok" if d.get("observer_alive") and not down else ("DOWN" if not d.get("observer_alive")
                                                                     else f"{len(down)} folder(s) unusable")
        lines.append(f"daemon: running (pid {d['pid']}), watcher {watcher}, "
                     f"workers {'ok' if d.get('workers_alive') else 'DOWN'}, in flight {d.get('queue_depth', 0)}")
        if d.get("segmenter"):
            lines.append(f"segmenter: {d['segmenter']} on {d.get('provider', 'cpu')}")
        if d.get("review_url"):
            lines.append(f"review page: {d['review_url']}")
        for r in down:
            lines.append(f"  watch folder unusable: {r['path']}: {r.get('error')} (looked for again every few "
                         "seconds; create it or mount the share)")
    else:
        lines.append("daemon: not running")
    lines.append("jobs:   " + ", ".join(f"{state} {n}" for state, n in report["counts"].items()))
    review = report.get("review") or {}
    if review:
        lines.append("waiting for a person: " + ", ".join(
            f"{n} {'cut-out(s) to look at (booth review)' if kind == 'cutout' else 'without a product (booth link)'}"
            for kind, n in sorted(review.items())))
    lines.append(f"done in the last hour: {report['done_last_hour']}")
    if report["oldest_waiting"]:
        o = report["oldest_waiting"]
        lines.append(f"oldest waiting: job {o['job_id']} {o['path']} ({o['age_s']:.0f} s, {o['state']})")
    for r in report.get("retrying", []):
        lines.append(f"  retrying     job {r['job_id']} {r['path']}: {r['error']} "
                     f"(attempt {r['attempts']}, next in {r['next_attempt_in_s']:.0f} s)")
    for f in report["last_failures"]:
        if f["state"] != "retrying":
            lines.append(f"  {f['state']:<12} job {f['job_id']} {f['path']}: {f['error']}")
    for n in report.get("not_taken", []):
        lines.append(f"  not taken    {n['path']}: {n['reason']} -> fix: {n['fix']}")
    for p in report.get("view_sets", []):
        what = ([f"missing {', '.join(p['missing'])}"] if p["missing"] else []) + (
            [f"{', '.join(p['doubled'])} shot twice"] if p["doubled"] else [])
        lines.append(f"  views        {p['category']}/{p['product']}: {'; '.join(what)}")
    return lines


# ----------------------------------------------------------------------- jobs

def jobs_command(args) -> int:
    state = "retrying" if args.state == "failed" else args.state

    def show(config, journal) -> int:
        jobs = journal.jobs(state, limit=args.limit, newest_first=True, path=args.path, product=args.product)
        if args.json:
            _print_json([j.as_dict() for j in jobs])
        elif not jobs:
            what = [f"state {state}" if state else "", f"path containing {args.path!r}" if args.path else "",
                    f"product {args.product!r}" if args.product else ""]
            print("no jobs" + (" with " + ", ".join(w for w in what if w) if any(what) else ""))
        for job in [] if args.json else jobs:
            print(job_line(job))
        return 0
    return _reading(args, show)


def job_line(job) -> str:
    total = sum(v for k, v in job.timings.items() if "." not in k)
    where = job.output or job.quarantined_to or ""
    extra = f" -> {where}" if where else ""
    err = f"  [{job.error}]" if job.error else ""
    conf = f" conf {job.confidence:.2f}" if job.confidence is not None else ""
    return (f"{job.id:>6} {job.state:<12} {job.category or '-'}/{job.product_key or '-'}"
            f" {job.path}{extra} {total:.0f} ms{conf}{err}")


def job_command(args) -> int:
    def show(config, journal) -> int:
        job = journal.get(args.id)
        if job is None:
            print(f"no job {args.id}", file=sys.stderr)
            return 1
        history = journal.history(args.id)
        if args.json:
            _print_json({**job.as_dict(), "history": [vars(e) for e in history]})
        else:
            print("\n".join(job_story(job, history)))
        return 0
    return _reading(args, show)


def job_story(job, history) -> list[str]:
    def when(t):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"
    lines = [f"job {job.id}: {job.state}" + (f" ({job.review_kind})" if job.review_kind and
                                              job.state == "needs_review" else ""),
             f"  photo:     {job.path}",
             f"  sha256:    {job.sha256}",
             f"  category:  {job.category or 'default'}   product: {job.product_key or '-'}   "
             f"view: {job.view or '-'}   index: {job.index if job.index is not None else '-'}"]
    if job.output:
        lines.append(f"  output:    {job.output}")
    if job.quarantined_to:
        lines.append(f"  quarantined to: {job.quarantined_to}")
    if job.duplicate_of:
        lines.append(f"  duplicate of job {job.duplicate_of}")
    if job.replaces:
        lines.append(f"  replaced the output of job {job.replaces}")
    if job.confidence is not None:
        lines.append(f"  confidence: {job.confidence:.2f}" + (f" ({'; '.join(job.reasons)})" if job.reasons else ""))
    if job.overrides:
        lines.append("  settings:  " + ", ".join(f"{k}={v}" for k, v in job.overrides.items()))
    if job.error:
        lines.append(f"  error:     {job.error}")
    if job.timings:
        lines.append("  timings:   " + ", ".join(f"{k} {v:.0f} ms" for k, v in job.timings.items() if "." not in k))
    remote = {k: v for k, v in (job.remote or {}).items() if v not in (None, "", [], {})}
    if remote:
        lines.append("  shopify:   " + ", ".join(f"{k}={v}" for k, v in remote.items() if k != "candidates"))
    lines.append("  history:")
    for event in history:
        who = f" by {event.actor}" if event.actor else ""
        note = f": {event.note}" if event.note else ""
        err = f" [{event.error}]" if event.error and event.state in ("retrying", "quarantined", "needs_review",
                                                                     "rejected") else ""
        kept = f" (kept {event.detail['kept']})" if event.detail.get("kept") else ""
        lines.append(f"    {when(event.at)}  {event.state}{who}{note}{err}{kept}")
    return lines


# ----------------------------------------------------------------------- retry / reprocess / restore

def retry_command(args) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    from daemon.journal import QUARANTINED, RETRYING

    journal = _open_journal(config)
    if journal is None:
        return 1
    try:
        if args.job is not None:
            job = journal.get(args.job)
            if job is None:
                print(f"no job {args.job}", file=sys.stderr)
                return 1
            targets = [job]
        else:
            targets = journal.jobs(RETRYING if args.retrying else QUARANTINED)
        if not targets:
            print("no jobs to retry")
            return 0
        refused = 0
        for job in targets:
            problem = _retry(journal, job)
            if problem:
                refused += 1
                print(f"job {job.id} not queued: {problem}", file=sys.stderr)
            else:
                print(f"job {job.id} queued again: {job.path}")
        return 1 if refused else 0
    finally:
        journal.close()


def _retry(journal, job) -> str | None:
    """Queue ``job`` again (its quarantined original back in place first); the reason when it cannot be."""
    from daemon import files
    from daemon.journal import DONE, IN_FLIGHT, NEEDS_REVIEW, QUARANTINED, REJECTED, RETRYING, WAITING

    # Put the original back first, then requeue: until the requeue the daemon's
    # intake finds a quarantined job for those bytes and leaves the file alone, so
    # the worker never looks for an original that is not there yet. Interrupted in
    # between, running retry again only requeues (the file is already back).
    if job.state in IN_FLIGHT:
        return "it is being worked on right now"
    if job.state == DONE:
        return "it is done; to run it again use: booth reprocess " + job.path
    if job.state in (NEEDS_REVIEW, REJECTED):
        return f"it is {job.state}: decide with booth approve / reject / redo {job.id}" + (
            f", or booth link {job.id} PRODUCT_ID" if job.review_kind == "product" else "")
    if job.state == WAITING:
        return "it is already waiting to be processed"
    q = Path(job.quarantined_to) if job.quarantined_to else None
    original = job.file
    if q and q.exists():
        if original.exists() and not files.still_the_same(original, size=job.size, mtime_ns=job.mtime_ns,
                                                          sha256=job.sha256):
            return f"another file is now at {job.path}; move it away first (the quarantined original is {q})"
        if not original.exists():
            try:
                files.move(q, original)
            except OSError as exc:
                return f"cannot move {q} back to {job.path}: {exc.strerror or exc}"
            note = files.beside(q, ".error.json")
            if note.exists():
                note.rename(files.beside(note, ".retried"))
    stage = "publish" if job.stage == "publish" and job.output and Path(job.output).exists() else "load"
    if not journal.requeue(job.id, stage=stage, only_from=[QUARANTINED, RETRYING], actor="booth retry"):
        return "it is being worked on right now"
    return None


def reprocess_command(args) -> int:
    import os

    from daemon.intake import Intake
    from daemon.service import candidates_for

    config = load_or_report(args.config)
    if config is None:
        return 2
    target = Path(os.path.abspath(args.path))
    if not target.exists():
        print(f"{args.path}: no such file", file=sys.stderr)
        return 1
    candidates = candidates_for(config)
    files_ = [p for p in sorted(target.rglob("*")) if p.is_file()] if target.is_dir() else [target]
    photos = [p for p in files_ if candidates.accepts(p) or not target.is_dir()]
    if not photos:
        print(f"{args.path}: no photos (hidden, temporary and non-image files are skipped)", file=sys.stderr)
        return 1
    journal = _open_journal(config)
    if journal is None:
        return 1
    intake = Intake(config, journal)
    busy = 0
    try:
        for path in photos:
            located = intake.locate(path)
            if located is None:
                print(f"{path}: not inside a watched folder ({', '.join(map(str, config.watch.paths))})",
                      file=sys.stderr)
                busy += 1
                continue
            recorded = intake.record(located.path, located=located)
            job = recorded.job
            queued = recorded.created or journal.requeue(job.id, stage="load", actor="booth reprocess",
                                                         overrides={}, approved=0)
            if queued:
                print(f"job {job.id} queued: {job.path}")
            else:
                busy += 1
                print(f"job {job.id} not queued: it is being worked on right now ({job.path})", file=sys.stderr)
        return 1 if busy else 0
    finally:
        journal.close()


def restore_command(args) -> int:
    """Swap the job's output with the newest image a reprocess or redo replaced
    (the current one is kept in turn, so a restore can be undone the same way)."""
    import shutil

    from daemon import files
    from daemon.journal import DONE, IN_FLIGHT

    config = load_or_report(args.config)
    if config is None:
        return 2
    journal = _open_journal(config)
    if journal is None:
        return 1
    try:
        job = journal.get(args.job)
        if job is None:
            print(f"no job {args.job}", file=sys.stderr)
            return 1
        if job.state in IN_FLIGHT:
            print(f"job {job.id} is being worked on right now; try again when it is done", file=sys.stderr)
            return 1
        kept = next((Path(e.detail["kept"]) for e in reversed(journal.history(job.id))
                     if e.detail.get("kept") and Path(e.detail["kept"]).is_file()), None)
        if kept is None or not job.output:
            print(f"job {job.id} has no earlier image to restore", file=sys.stderr)
            return 1
        output = Path(job.output)
        keep_now = files.free_path(Path(config.state_dir) / "history" / str(job.id) / output.name)
        if output.is_file():
            keep_now.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(output, keep_now)
        files.write_atomic(output, kept.read_bytes())
        journal.set_state(job.id, job.state, error=job.error, actor="booth restore",
                          note=f"restored {kept.name}", detail={"kept": str(keep_now) if output.exists() else None,
                                                                "restored": str(kept)})
        published = bool((job.remote or {}).get("file_id"))
        if config.shopify.enabled and job.state == DONE and published:
            journal.requeue(job.id, stage="publish", actor="booth restore", note="publish the restored image")
            print(f"job {job.id}: {output} restored from {kept}; queued to replace it on Shopify")
        else:
            print(f"job {job.id}: {output} restored from {kept}")
        return 0
    finally:
        journal.close()
