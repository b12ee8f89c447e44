"""The durable journal: one SQLite row per job, the only place a photo's state lives.

A job is one version of one file: keyed by (content sha256, path), so the same
bytes dropped again at the same place are recognised, and changed bytes at the
same path are a new job. WAL mode with ``synchronous=FULL``: every state change
is on disk before the call returns, so ``kill -9`` (or a power cut) at any moment
loses nothing that was reported finished. Keep it on local disk (WAL does not
work over network filesystems).

States::

    waiting -> processing -> [publishing ->] done
                  |  \\-> failed (retried later, with backoff) -> waiting ...
                  \\-> quarantined (bad file, or out of attempts)   needs_review (publisher asked a human)

``stage`` says where the next attempt starts: ``load`` (from the original) or
``publish`` (the output is already on disk; only the publish step is left).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAITING, PROCESSING, PUBLISHING, DONE = "waiting", "processing", "publishing", "done"
FAILED, QUARANTINED, NEEDS_REVIEW = "failed", "quarantined", "needs_review"
STATES = (WAITING, PROCESSING, PUBLISHING, DONE, FAILED, QUARANTINED, NEEDS_REVIEW)
FINAL = (DONE, QUARANTINED, NEEDS_REVIEW)
STAGES = ("load", "publish")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256          TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    root            TEXT    NOT NULL DEFAULT '',
    rel             TEXT    NOT NULL DEFAULT '',
    size            INTEGER,
    mtime_ns        INTEGER,
    state           TEXT    NOT NULL DEFAULT 'waiting',
    stage           TEXT    NOT NULL DEFAULT 'load',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL    NOT NULL DEFAULT 0,
    created_at      REAL    NOT NULL,
    updated_at      REAL    NOT NULL,
    finished_at     REAL,
    timings         TEXT    NOT NULL DEFAULT '{}',
    error           TEXT,
    error_type      TEXT,
    category        TEXT,
    product_key     TEXT,
    view            TEXT,
    idx             INTEGER,
    fields          TEXT    NOT NULL DEFAULT '{}',
    output          TEXT,
    quarantined_to  TEXT,
    duplicate_of    INTEGER,
    remote          TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (sha256, path)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS jobs_path ON jobs (path);
CREATE INDEX IF NOT EXISTS jobs_output ON jobs (output);
CREATE INDEX IF NOT EXISTS jobs_sha ON jobs (sha256);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at);
"""

_SETTABLE = {"attempts", "next_attempt_at", "stage", "timings", "output", "error_type", "quarantined_to",
             "finished_at", "duplicate_of", "size", "mtime_ns"}


class JournalError(Exception):
    """The journal cannot be opened or written."""


@dataclass(frozen=True)
class Job:
    id: int
    sha256: str
    path: str
    root: str
    rel: str
    size: int | None
    mtime_ns: int | None
    state: str
    stage: str
    attempts: int
    next_attempt_at: float
    created_at: float
    updated_at: float
    finished_at: float | None
    timings: dict[str, float]
    error: str | None
    error_type: str | None
    category: str | None
    product_key: str | None
    view: str | None
    index: int | None
    fields: dict[str, str]
    output: str | None
    quarantined_to: str | None
    duplicate_of: int | None
    remote: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _job(row: sqlite3.Row | None) -> Job | None:
    if row is None:
        return None
    data = dict(row)
    data["index"] = data.pop("idx")
    for key in ("timings", "fields", "remote"):
        data[key] = json.loads(data[key] or "{}")
    return Job(**data)


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from exc
        self._lock = threading.RLock()
        self._closed = False

    # ------------------------------------------------------------------ plumbing

    def _q(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self._closed:
                raise JournalError("the journal is closed")
            return self._db.execute(sql, tuple(args)).fetchall()

    def _write(self, sql: str, args: Iterable[Any] = ()) -> int:
        with self._lock:
            if self._closed:
                raise JournalError("the journal is closed")
            return self._db.execute(sql, tuple(args)).rowcount

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    # ------------------------------------------------------------------ jobs

    def add(self, sha256: str, path: str | Path, *, root: str | Path = "", rel: str = "",
            size: int | None = None, mtime_ns: int | None = None, category: str | None = None,
            product_key: str | None = None, view: str | None = None, index: int | None = None,
            fields: Mapping[str, str] | None = None, state: str = WAITING) -> tuple[Job, bool]:
        """The job for (sha256, path): created (True) or the one already there (False)."""
        now = time.time()
        with self._lock:
            cur = self._q(
                "INSERT INTO jobs (sha256, path, root, rel, size, mtime_ns, state, created_at, updated_at,"
                " category, product_key, view, idx, fields) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (sha256, path) DO NOTHING RETURNING id",
                (sha256, str(path), str(root), rel, size, mtime_ns, state, now, now, category, product_key,
                 view, index, json.dumps(dict(fields or {}))))
            job = self.find(sha256, path)
            if not cur and job is not None and (job.size, job.mtime_ns) != (size, mtime_ns) and size is not None:
                self._write("UPDATE jobs SET size=?, mtime_ns=? WHERE id=?", (size, mtime_ns, job.id))
        assert job is not None
        return job, bool(cur)

    def get(self, job_id: int | str) -> Job | None:
        return _job(next(iter(self._q("SELECT * FROM jobs WHERE id=?", (int(job_id),))), None))

    def find(self, sha256: str, path: str | Path) -> Job | None:
        return _job(next(iter(self._q("SELECT * FROM jobs WHERE sha256=? AND path=?", (sha256, str(path)))), None))

    def latest(self, path: str | Path) -> Job | None:
        """The newest version known at ``path``."""
        return _job(next(iter(self._q("SELECT * FROM jobs WHERE path=? ORDER BY id DESC LIMIT 1",
                                      (str(path),))), None))

    def jobs(self, state: str | None = None, limit: int | None = None, newest_first: bool = False) -> list[Job]:
        sql, args = "SELECT * FROM jobs", []
        if state is not None:
            sql += " WHERE state=?"
            args.append(state)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_job(r) for r in self._q(sql, args)]

    def set_state(self, job_id: int | str, state: str, *, error: str | None = None, **changes: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r} (one of {', '.join(STATES)})")
        unknown = set(changes) - _SETTABLE
        if unknown:
            raise ValueError(f"cannot set {', '.join(sorted(unknown))} on a job")
        if "timings" in changes:
            changes["timings"] = json.dumps(changes["timings"])
        if state in FINAL and "finished_at" not in changes:
            changes["finished_at"] = time.time()
        cols = ", ".join(f"{k}=?" for k in changes)
        self._write(f"UPDATE jobs SET state=?, error=?, updated_at=?{', ' if cols else ''}{cols} WHERE id=?",
                    (state, error, time.time(), *changes.values(), int(job_id)))

    def claim(self, job_id: int) -> bool:
        """waiting/failed -> processing, atomically; False if someone else moved it."""
        return self._write("UPDATE jobs SET state=?, updated_at=? WHERE id=? AND state IN (?, ?)",
                           (PROCESSING, time.time(), int(job_id), WAITING, FAILED)) == 1

    def requeue(self, job_id: int | str, stage: str = "load") -> bool:
        """Run the job again from ``stage`` (``load`` or ``publish``) with fresh attempts.
        False when there is no such job or it is in flight right now (the worker's
        own state write would overwrite the requeue when it finishes)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}")
        return self._write(
            "UPDATE jobs SET state=?, stage=?, attempts=0, next_attempt_at=0, error=NULL, error_type=NULL,"
            " finished_at=NULL, updated_at=? WHERE id=? AND state NOT IN (?, ?)",
            (WAITING, stage, time.time(), int(job_id), PROCESSING, PUBLISHING)) == 1

    def forget(self, job_id: int) -> bool:
        """Drop a version that never existed (a file caught mid-write and since changed).
        A job that left anything behind (an output, a quarantined original, Shopify
        ids) is never dropped: without its row that would be lost or done twice.
        True if the row went."""
        return self._write(
            "DELETE FROM jobs WHERE id=? AND state NOT IN (?, ?, ?) AND output IS NULL AND quarantined_to IS NULL"
            " AND remote='{}'", (int(job_id), DONE, NEEDS_REVIEW, QUARANTINED)) == 1

    def recover(self, keep: Iterable[int] = ()) -> int:
        """Jobs marked in flight that are not (after a crash; or a state write that
        failed, with the disk full) start again from their checkpoint; ``keep``:
        the ids really in flight."""
        keep = [int(i) for i in keep]
        marks = ",".join("?" * len(keep))
        return self._write(f"UPDATE jobs SET state=?, updated_at=? WHERE state IN (?, ?)"
                           f"{f' AND id NOT IN ({marks})' if keep else ''}",
                           (WAITING, time.time(), PROCESSING, PUBLISHING, *keep))

    def due(self, now: float | None = None, limit: int = 100) -> list[Job]:
        now = time.time() if now is None else now
        return [_job(r) for r in self._q(
            "SELECT * FROM jobs WHERE state=? OR (state=? AND next_attempt_at<=?) ORDER BY id LIMIT ?",
            (WAITING, FAILED, now, limit))]

    def next_retry_at(self) -> float | None:
        row = self._q("SELECT MIN(next_attempt_at) FROM jobs WHERE state=?", (FAILED,))[0]
        return row[0]

    # ------------------------------------------------------------------ queries

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        counts.update({r[0]: r[1] for r in self._q("SELECT state, COUNT(*) FROM jobs GROUP BY state")})
        return counts

    def queued(self) -> int:
        """Jobs waiting or in flight."""
        return self._q("SELECT COUNT(*) FROM jobs WHERE state IN (?, ?, ?)", (WAITING, PROCESSING, PUBLISHING))[0][0]

    def done_since(self, since: float) -> int:
        return self._q("SELECT COUNT(*) FROM jobs WHERE state=? AND finished_at>=?", (DONE, since))[0][0]

    def oldest_waiting(self) -> Job | None:
        return _job(next(iter(self._q(
            "SELECT * FROM jobs WHERE state IN (?, ?) ORDER BY created_at LIMIT 1", (WAITING, FAILED))), None))

    def last_failures(self, limit: int = 5) -> list[Job]:
        return [_job(r) for r in self._q(
            "SELECT * FROM jobs WHERE error IS NOT NULL AND state IN (?, ?, ?) ORDER BY updated_at DESC LIMIT ?",
            (FAILED, QUARANTINED, NEEDS_REVIEW, limit))]

    def known_files(self) -> dict[str, tuple[int | None, int | None]]:
        """path -> (size, mtime_ns) of its newest version: lets a rescan skip files it has seen."""
        return {r[0]: (r[1], r[2]) for r in self._q(
            "SELECT path, size, mtime_ns FROM jobs WHERE id IN (SELECT MAX(id) FROM jobs GROUP BY path)")}

    def output_owner(self, output: str | Path, other_than: str | Path) -> Job | None:
        """A job from a different original that already wrote ``output``."""
        return _job(next(iter(self._q(
            "SELECT * FROM jobs WHERE output=? AND path<>? AND duplicate_of IS NULL LIMIT 1",
            (str(output), str(other_than)))), None))

    def twin(self, sha256: str, category: str | None, product_key: str | None, view: str | None,
             index: int | None, other_than: int) -> Job | None:
        """A job with the same bytes bound for the same product, view and place (a duplicate copy)."""
        return _job(next(iter(self._q(
            "SELECT * FROM jobs WHERE sha256=? AND category IS ? AND product_key IS ? AND view IS ? AND idx IS ?"
            " AND id<>? AND duplicate_of IS NULL AND state NOT IN (?, ?) ORDER BY id LIMIT 1",
            (sha256, category, product_key, view, index, other_than, QUARANTINED, FAILED))), None))

    # ------------------------------------------------------------------ remote ids

    def remote_ids(self, job_id: int | str) -> "RemoteIds":
        return RemoteIds(self, int(job_id))

    def _remote_get(self, job_id: int) -> dict[str, str]:
        rows = self._q("SELECT remote FROM jobs WHERE id=?", (job_id,))
        return json.loads(rows[0][0] or "{}") if rows else {}

    def _remote_put(self, job_id: int, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                remote = self._remote_get(job_id)
                remote[key] = value
                self._db.execute("UPDATE jobs SET remote=?, updated_at=? WHERE id=?",
                                 (json.dumps(remote), time.time(), job_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise


class RemoteIds:
    """The remote ids (product, media, staged upload...) a job has produced so far.

    ``put`` is durable before it returns, so a publish step that crashes after
    creating something remotely finds its id on the next attempt instead of
    creating a duplicate."""

    def __init__(self, journal: Journal, job_id: int) -> None:
        self._journal = journal
        self.job_id = job_id

    def get(self, key: str) -> str | None:
        return self._journal._remote_get(self.job_id).get(key)

    def put(self, key: str, value: str) -> None:
        self._journal._remote_put(self.job_id, key, str(value))

    def all(self) -> dict[str, str]:
        return self._journal._remote_get(self.job_id)
