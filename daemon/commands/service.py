"""booth run / status / jobs / retry / reprocess"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from daemon.cli import load_or_report
from daemon.config import Config, ConfigError
from daemon.events import RETRY, THROTTLE
from daemon.journal import FAILED, PROCESSING, PUBLISHING, QUARANTINED, STATES, Job, Journal, JournalError
from daemon.service import journal_path, read_health
from daemon.worker import sha256_file, still_the_same


def register(sub) -> None:
    run = sub.add_parser("run", help="watch the hot folders and process every photo (the daemon)")
    run.add_argument("--config", help="config file (default: $BOOTH_CONFIG, ./config.yaml, /etc/booth/config.yaml)")
    run.add_argument("--dry-run", action="store_true",
                     help="log what would be published to Shopify instead of calling it")
    run.set_defaults(func=run_command)

    status = sub.add_parser("status", help="jobs per state, throughput, failures and watcher health")
    status.add_argument("--config")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=status_command)

    jobs = sub.add_parser("jobs", help="list jobs")
    jobs.add_argument("--config")
    jobs.add_argument("--state", choices=STATES)
    jobs.add_argument("--limit", type=int, default=100)
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(func=jobs_command)

    retry = sub.add_parser("retry", help="run failed or quarantined jobs again")
    retry.add_argument("--config")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("job", nargs="?", type=int, help="a job id")
    which.add_argument("--failed", action="store_true", help="every job waiting for a retry")
    which.add_argument("--quarantined", action="store_true", help="every quarantined job (originals move back)")
    retry.set_defaults(func=retry_command)

    again = sub.add_parser("reprocess", help="process a photo (or every photo in a folder) again")
    again.add_argument("--config")
    again.add_argument("path")
    again.set_defaults(func=reprocess_command)


def _journal(config: Config) -> Journal:
    return Journal(journal_path(config))


# ----------------------------------------------------------------------- run

def run_command(args) -> int:
    from daemon.logging import configure, get_logger
    from daemon.service import AlreadyRunning, Service
    from pipeline.errors import PipelineError

    config = load_or_report(args.config)
    if config is None:
        return 2
    configure(config.logging.level, config.logging.format)
    hooks = []
    try:
        publisher = _publisher(config, dry_run=args.dry_run)
        hooks.append(publisher)
        service = Service(config, publisher=publisher)
        publisher.events = service.events
        hooks += _attach(config, service)
        return service.run()
    except ConfigError as exc:
        get_logger("service").error("cannot start", error=str(exc))
        return 2
    except (JournalError, PipelineError, AlreadyRunning) as exc:  # journal, segmenter, a second daemon
        get_logger("service").error("cannot start", error=str(exc), error_type=type(exc).__name__)
        return 1
    finally:
        for hook in hooks:
            hook.close()


def _attach(config: Config, service) -> list:
    """Subscribers to the service's lifecycle events: systemd notify/watchdog and metrics."""
    from daemon.metrics import start_metrics
    from daemon.notify import Notifier, attach

    return [attach(service.events, service.health, Notifier.from_env()),
            start_metrics(config.metrics, service.events)]


class _ReportingPublisher:
    """The Shopify publisher, announcing retries and the cost bucket's level
    as lifecycle events (metrics subscribe to them)."""

    def __init__(self, publisher) -> None:
        self._publisher = publisher
        self.events = None

    def publish(self, request, ids):
        try:
            return self._publisher.publish(request, ids)
        finally:
            available, maximum = self._publisher.throttle()
            if self.events is not None and available is not None:
                self.events.emit(THROTTLE, available=available, maximum=maximum)

    def on_retry(self, operation: str) -> None:
        if self.events is not None:
            self.events.emit(RETRY, operation=operation)

    def close(self) -> None:
        self._publisher.close()


def _publisher(config: Config, dry_run: bool = False) -> _ReportingPublisher:
    """The Shopify publisher. With ``shopify.enabled: false`` or ``--dry-run`` it
    only logs what it would publish, so the publish step can be watched safely."""
    from daemon.logging import register_secret
    from integrations.shopify.publish import Publisher

    reporting = _ReportingPublisher(None)
    try:
        reporting._publisher = Publisher(config.shopify, on_secret=register_secret, dry_run=dry_run,
                                         on_retry=reporting.on_retry)
    except Exception as exc:  # noqa: BLE001 - e.g. no access token configured: say so and stop
        raise ConfigError(f"shopify: cannot set up the publisher: {exc}") from None
    return reporting


# ----------------------------------------------------------------------- status

def status_report(config: Config, journal: Journal, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    oldest = journal.oldest_waiting()
    health = read_health(config)
    running = bool(health and not health.get("stopped") and _alive(health.get("pid")))
    return {
        "counts": journal.counts(),
        "done_last_hour": journal.done_since(now - 3600),
        "oldest_waiting": None if oldest is None else {
            "job_id": oldest.id, "path": oldest.path, "age_s": round(now - oldest.created_at, 1),
            "state": oldest.state},
        "last_failures": [{"job_id": j.id, "path": j.path, "state": j.state, "error": j.error,
                           "at": j.updated_at} for j in journal.last_failures(5)],
        "daemon": {"running": running, **(health or {})},
    }


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, TypeError, ValueError):
        return False


def status_command(args) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    journal = _journal(config)
    report = status_report(config, journal)
    journal.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    d = report["daemon"]
    if d["running"]:
        print(f"daemon: running (pid {d['pid']}), watcher {'ok' if d.get('observer_alive') else 'DOWN'}, "
              f"workers {'ok' if d.get('workers_alive') else 'DOWN'}, in flight {d.get('queue_depth', 0)}")
        if d.get("segmenter"):
            print(f"segmenter: {d['segmenter']} on {d.get('provider', 'cpu')}")
    else:
        print("daemon: not running")
    print("jobs:   " + ", ".join(f"{state} {n}" for state, n in report["counts"].items()))
    print(f"done in the last hour: {report['done_last_hour']}")
    if report["oldest_waiting"]:
        o = report["oldest_waiting"]
        print(f"oldest waiting: job {o['job_id']} {o['path']} ({o['age_s']:.0f} s, {o['state']})")
    for f in report["last_failures"]:
        print(f"  {f['state']:<12} job {f['job_id']} {f['path']}: {f['error']}")
    return 0


# ----------------------------------------------------------------------- jobs

def jobs_command(args) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    journal = _journal(config)
    jobs = journal.jobs(args.state, limit=args.limit, newest_first=True)
    journal.close()
    if args.json:
        print(json.dumps([j.as_dict() for j in jobs], indent=2))
        return 0
    for job in jobs:
        print(_job_line(job))
    return 0


def _job_line(job: Job) -> str:
    total = sum(v for k, v in job.timings.items() if "." not in k)
    where = job.output or job.quarantined_to or ""
    extra = f" -> {where}" if where else ""
    err = f"  [{job.error}]" if job.error else ""
    return (f"{job.id:>6} {job.state:<12} {job.category or '-'}/{job.product_key or '-'}"
            f" {job.path}{extra} {total:.0f} ms{err}")


# ----------------------------------------------------------------------- retry / reprocess

def retry_command(args) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    journal = _journal(config)
    try:
        if args.job is not None:
            job = journal.get(args.job)
            if job is None:
                print(f"no job {args.job}", file=sys.stderr)
                return 1
            targets = [job]
        else:
            targets = journal.jobs(FAILED if args.failed else QUARANTINED)
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


def _retry(journal: Journal, job: Job) -> str | None:
    """Queue ``job`` again (its quarantined original back in place first); the reason when it cannot be."""
    # Put the original back first, then requeue: until the requeue the daemon's
    # intake finds a quarantined job for those bytes and leaves the file alone, so
    # the worker never looks for an original that is not there yet. Interrupted in
    # between, running retry again only requeues (the file is already back).
    if job.state in (PROCESSING, PUBLISHING):
        return "it is being worked on right now"
    q = Path(job.quarantined_to) if job.quarantined_to else None
    original = Path(job.path)
    if q and q.exists():
        if original.exists() and not still_the_same(job, original):
            return (f"another file is now at {original}; move it away first (the quarantined original is {q})")
        if not original.exists():
            original.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(q), original)
            note = q.with_name(q.name + ".error.json")
            if note.exists():
                note.rename(note.with_name(note.name + ".retried"))
    stage = "publish" if job.stage == "publish" and job.output and Path(job.output).exists() else "load"
    if not journal.requeue(job.id, stage=stage):
        return "it is being worked on right now"
    return None


def reprocess_command(args) -> int:
    from daemon.router import Router
    from daemon.service import candidates_for

    config = load_or_report(args.config)
    if config is None:
        return 2
    target = Path(os.path.abspath(args.path))
    if not target.exists():
        print(f"{args.path}: no such file", file=sys.stderr)
        return 1
    candidates = candidates_for(config)
    files = [p for p in sorted(target.rglob("*")) if p.is_file()] if target.is_dir() else [target]
    photos = [p for p in files if candidates.accepts(p) or not target.is_dir()]
    if not photos:
        print(f"{args.path}: no photos (hidden, temporary and non-image files are skipped)", file=sys.stderr)
        return 1
    journal = _journal(config)
    router = Router(config.routes)
    busy = 0
    try:
        for path in photos:
            job, queued = _reprocess(config, journal, router, path)
            if queued:
                print(f"job {job.id} queued: {job.path}")
            else:
                busy += 1
                print(f"job {job.id} not queued: it is being worked on right now ({job.path})", file=sys.stderr)
        return 1 if busy else 0
    finally:
        journal.close()


def locate(config: Config, path: Path) -> tuple[Path, Path, str]:
    """(watched root, the path as the daemon spells it, path below the root): the
    same file named through a symlink or ``..`` still finds its existing job."""
    roots = sorted((Path(r) for r in config.watch.paths), key=lambda r: -len(str(r)))
    for root in roots:
        for base, candidate in ((root, path), (root.resolve(), path.resolve())):
            if candidate.is_relative_to(base):
                rel = candidate.relative_to(base)
                return root, root / rel, rel.as_posix()
    return path.parent, path, path.name


def _reprocess(config: Config, journal: Journal, router, path: Path) -> tuple[Job, bool]:
    root, path, rel = locate(config, path)
    sha = sha256_file(path)
    route = router.route(rel)
    st = path.stat()
    job, created = journal.add(sha, path, root=root, rel=rel, size=st.st_size, mtime_ns=st.st_mtime_ns,
                               category=route.category, product_key=route.product_key, view=route.view,
                               index=route.index, fields=route.fields)
    return job, created or journal.requeue(job.id, stage="load")
