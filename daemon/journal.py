"""The durable journal: one SQLite row per job, the only place a photo's state lives.

A job is one version of one file: keyed by (content sha256, path), so the same
bytes dropped again at the same place are recognised, and changed bytes at the
same path are a new job. WAL mode with ``synchronous=FULL``: every state change
is on disk before the call returns, so ``kill -9`` (or a power cut) at any moment
loses nothing that was reported finished. Keep it on local disk (WAL does not
work over network filesystems).

States::

    waiting -> processing -> [publishing ->] done
                  |  \\-> retrying (a transient failure: waits, with backoff) -> waiting ...
                  |  \\-> quarantined (a bad photo)
                  \\-> needs_review (a person decides: the cut-out, or which product) -> waiting | rejected
                  \\-> grouping (compose.scale: product: measured, waits for the product's other views) -> waiting

``stage`` says where the next attempt starts: ``load`` (from the original) or
``publish`` (the output is already on disk; only the publish step is left).
Every state change is also a row in ``history`` (when, what, who, why), which
is what ``booth job ID`` tells. Files in the watched folders that could not be
taken at all (unreadable, a format booth cannot read, a link) are ``notices``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from daemon.files import display, is_plain_text


class State(StrEnum):
    WAITING = "waiting"
    PROCESSING = "processing"
    PUBLISHING = "publishing"
    DONE = "done"
    RETRYING = "retrying"
    QUARANTINED = "quarantined"
    NEEDS_REVIEW = "needs_review"
    REJECTED = "rejected"
    GROUPING = "grouping"  # measured; waits for the rest of its product's views (compose.scale: product)


class Checkpoint(StrEnum):
    """Where a job's next attempt starts."""

    LOAD = "load"
    PUBLISH = "publish"


class ReviewKind(StrEnum):
    CUTOUT = "cutout"    # a person must look at the cut-out before it is published
    PRODUCT = "product"  # the shop needs a person: no single product matched, a scope is missing...


WAITING, PROCESSING, PUBLISHING, DONE = State.WAITING, State.PROCESSING, State.PUBLISHING, State.DONE
RETRYING, QUARANTINED, NEEDS_REVIEW, REJECTED = State.RETRYING, State.QUARANTINED, State.NEEDS_REVIEW, State.REJECTED
GROUPING = State.GROUPING
STATES = tuple(State)
FINAL = (DONE, QUARANTINED, NEEDS_REVIEW, REJECTED)
IN_FLIGHT = (PROCESSING, PUBLISHING)
SCHEMA_VERSION = 3

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
CREATE TABLE IF NOT EXISTS history (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  INTEGER NOT NULL,
    at      REAL    NOT NULL,
    state   TEXT    NOT NULL,
    error   TEXT,
    actor   TEXT,
    note    TEXT,
    detail  TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS history_job ON history (job_id, id);
CREATE TABLE IF NOT EXISTS product_sets (
    category    TEXT NOT NULL,
    product_key TEXT NOT NULL,
    scale       REAL NOT NULL,
    released_at REAL NOT NULL,
    PRIMARY KEY (category, product_key)
);
CREATE TABLE IF NOT EXISTS notices (
    path       TEXT PRIMARY KEY,
    raw_path   BLOB,
    root       TEXT NOT NULL DEFAULT '',
    kind       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    fix        TEXT NOT NULL DEFAULT '',
    first_seen REAL NOT NULL,
    last_seen  REAL NOT NULL
);
"""

# Columns added after the first release (schema version 1 -> 2).
_ADDED = (("raw_path", "BLOB"), ("review_kind", "TEXT"), ("confidence", "REAL"),
          ("reasons", "TEXT NOT NULL DEFAULT '[]'"), ("overrides", "TEXT NOT NULL DEFAULT '{}'"),
          ("replaces", "INTEGER"), ("approved", "INTEGER NOT NULL DEFAULT 0"), ("own_scale", "REAL"),
          ("set_scale", "REAL"))

_SETTABLE = {"attempts", "next_attempt_at", "stage", "timings", "output", "error_type", "quarantined_to",
             "finished_at", "duplicate_of", "size", "mtime_ns", "review_kind", "confidence", "reasons",
             "overrides", "replaces", "approved", "own_scale", "set_scale"}
_JSON = ("timings", "fields", "remote", "reasons", "overrides")


class JournalError(Exception):
    """The journal cannot be opened or written."""


class NoJournalYet(JournalError):
    """Read-only: there is no journal at that path (the daemon has not run with this config)."""


@dataclass(frozen=True)
class Job:
    id: int
    sha256: str
    path: str            # as shown (a name that is not UTF-8 shows its odd bytes as \\xNN)
    root: str
    rel: str
    size: int | None
    mtime_ns: int | None
    state: State
    stage: Checkpoint
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
    remote: dict[str, Any] = field(default_factory=dict)
    raw_path: bytes | None = None
    review_kind: ReviewKind | None = None
    confidence: float | None = None
    reasons: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    replaces: int | None = None
    approved: bool = False
    own_scale: float | None = None  # the scale this view would get on its own (compose.scale: product)
    set_scale: float | None = None  # the product's shared scale it was rendered at

    @property
    def file(self) -> Path:
        """The original on disk (its real name, also when that is not UTF-8)."""
        return Path(os.fsdecode(self.raw_path)) if self.raw_path else Path(self.path)

    @property
    def publish_only(self) -> bool:
        return self.stage == Checkpoint.PUBLISH

    def as_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "raw_path"}
        return data


@dataclass(frozen=True)
class Event:
    """One line of a job's history."""

    at: float
    state: State
    error: str | None
    actor: str | None
    note: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Notice:
    """A file in a watched folder that could not be taken, and what would fix it."""

    path: str
    root: str
    kind: str
    reason: str
    fix: str
    first_seen: float
    last_seen: float


def _job(row: sqlite3.Row | None) -> Job | None:
    if row is None:
        return None
    data = dict(row)
    data["index"] = data.pop("idx")
    for key in _JSON:
        data[key] = json.loads(data[key] or ("[]" if key == "reasons" else "{}"))
    data["state"] = State(data["state"])
    data["stage"] = Checkpoint(data["stage"])
    data["review_kind"] = ReviewKind(data["review_kind"]) if data["review_kind"] else None
    data["approved"] = bool(data["approved"])
    return Job(**data)


def _scrub(text: str | None) -> str | None:
    """No secret is ever stored: remote error text may echo a request's headers."""
    if text is None:
        return None
    from integrations.secrets import scrub
    return scrub(text)


class Journal:
    def __init__(self, path: str | Path, *, readonly: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.exists():
                    raise NoJournalYet(f"{self.path}: no journal here yet (has the daemon run with this config?)")
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30,
                                           isolation_level=None, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=30000")
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._migrate()
            self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from exc
        self._lock = threading.RLock()
        self._closed = False

    def _migrate(self) -> None:
        self._db.executescript(_SCHEMA)
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_product ON jobs (category, product_key)")
        have = {r[1] for r in self._db.execute("PRAGMA table_info(jobs)")}
        for name, kind in _ADDED:
            if name not in have:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        self._db.execute("UPDATE jobs SET state='retrying' WHERE state='failed'")  # the state's old name
        self._db.execute("UPDATE jobs SET review_kind='product' WHERE state='needs_review' AND review_kind IS NULL")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # ------------------------------------------------------------------ plumbing

    def _q(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self._closed:
                raise JournalError("the journal is closed")
            try:
                return self._db.execute(sql, tuple(args)).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: {exc}") from exc

    def _write(self, sql: str, args: Iterable[Any] = ()) -> int:
        with self._lock:
            if self._closed:
                raise JournalError("the journal is closed")
            try:
                return self._db.execute(sql, tuple(args)).rowcount
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: {exc}") from exc

    def _transaction(self, work: Callable[[], Any]) -> Any:
        with self._lock:
            if self._closed:
                raise JournalError("the journal is closed")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = work()
                    self._db.execute("COMMIT")
                    return result
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise JournalError(f"{self.path}: {exc}") from exc

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    # ------------------------------------------------------------------ jobs

    def add(self, sha256: str, path: str | Path, *, root: str | Path = "", rel: str = "",
            size: int | None = None, mtime_ns: int | None = None, category: str | None = None,
            product_key: str | None = None, view: str | None = None, index: int | None = None,
            fields: Mapping[str, str] | None = None, state: State = WAITING,
            duplicate_of: int | None = None, output: str | None = None) -> tuple[Job, bool]:
        """The job for (sha256, path): created (True) or the one already there (False).
        ``path`` is the real one (any bytes); the journal keeps its display form
        and, for a name that is not UTF-8, the raw bytes beside it. A duplicate
        is created ``done`` pointing at its twin, in the same step."""
        now = self._clock()
        shown = display(path)
        raw = None if is_plain_text(path) else os.fsencode(path)

        def insert():
            cur = self._db.execute(
                "INSERT INTO jobs (sha256, path, raw_path, root, rel, size, mtime_ns, state, created_at, updated_at,"
                " category, product_key, view, idx, fields, duplicate_of, output, finished_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (sha256, path) DO NOTHING RETURNING id",
                (sha256, shown, raw, display(root), display(rel), size, mtime_ns, str(state), now, now, category,
                 product_key, view, index, json.dumps(dict(fields or {})), duplicate_of, output,
                 now if state in FINAL else None)).fetchall()
            if cur:
                self._history(cur[0][0], state, None, None,
                              f"the same bytes as job {duplicate_of}" if duplicate_of else "seen", {})
            else:
                self._db.execute("UPDATE jobs SET size=?, mtime_ns=? WHERE sha256=? AND path=? AND ? IS NOT NULL"
                                 " AND (size IS NOT ? OR mtime_ns IS NOT ?)",
                                 (size, mtime_ns, sha256, shown, size, size, mtime_ns))
            return bool(cur)

        created = self._transaction(insert)
        job = self.find(sha256, path)
        assert job is not None
        return job, created

    def get(self, job_id: int | str) -> Job | None:
        try:
            key = int(job_id)
        except (TypeError, ValueError):
            return None
        return _job(next(iter(self._q("SELECT * FROM jobs WHERE id=?", (key,))), None))

    def find(self, sha256: str, path: str | Path) -> Job | None:
        return _job(next(iter(self._q("SELECT * FROM jobs WHERE sha256=? AND path=?",
                                      (sha256, display(path)))), None))

    def latest(self, path: str | Path) -> Job | None:
        """The newest version known at ``path``."""
        return _job(next(iter(self._q("SELECT * FROM jobs WHERE path=? ORDER BY id DESC LIMIT 1",
                                      (display(path),))), None))

    def jobs(self, state: str | None = None, limit: int | None = None, newest_first: bool = False, *,
             path: str | None = None, product: str | None = None, review_kind: str | None = None) -> list[Job]:
        """Jobs, filtered by state, by a path (substring) or a product key (exact or substring)."""
        where, args = [], []
        if state is not None:
            where.append("state=?")
            args.append(str(state))
        if review_kind is not None:
            where.append("review_kind=?")
            args.append(str(review_kind))
        if path:
            where.append("instr(path, ?) > 0")
            args.append(path)
        if product:
            where.append("(product_key=? OR instr(lower(product_key), lower(?)) > 0)")
            args += [product, product]
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_job(r) for r in self._q(sql, args)]

    def finished(self, state: State, limit: int = 50) -> list[Job]:
        """The most recently finished jobs in ``state``, newest first."""
        return [_job(r) for r in self._q("SELECT * FROM jobs WHERE state=? ORDER BY finished_at DESC, id DESC"
                                         " LIMIT ?", (str(state), int(limit)))]

    def set_state(self, job_id: int | str, state: State | str, *, error: str | None = None,
                  actor: str | None = None, note: str | None = None, detail: Mapping[str, Any] | None = None,
                  **changes: Any) -> None:
        """Move a job to ``state`` (with the columns in ``changes``), and say so in its history."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r} (one of {', '.join(STATES)})")
        unknown = set(changes) - _SETTABLE
        if unknown:
            raise ValueError(f"cannot set {', '.join(sorted(unknown))} on a job")
        for key in _JSON:
            if key in changes and not isinstance(changes[key], str):
                changes[key] = json.dumps(changes[key])
        for key in ("stage", "review_kind"):
            if changes.get(key) is not None:
                changes[key] = str(changes[key])
        state, error = State(state), _scrub(error)
        if state in FINAL and "finished_at" not in changes:
            changes["finished_at"] = self._clock()
        cols = "".join(f", {k}=?" for k in changes)

        def write():
            self._db.execute(f"UPDATE jobs SET state=?, error=?, updated_at=?{cols} WHERE id=?",
                             (str(state), error, self._clock(), *changes.values(), int(job_id)))
            self._history(int(job_id), state, error, actor, note, detail or {})

        self._transaction(write)

    def _history(self, job_id: int, state: State, error: str | None, actor: str | None, note: str | None,
                 detail: Mapping[str, Any]) -> None:
        self._db.execute("INSERT INTO history (job_id, at, state, error, actor, note, detail) VALUES (?,?,?,?,?,?,?)",
                         (job_id, self._clock(), str(state), error, actor, note, json.dumps(dict(detail))))

    def history(self, job_id: int | str) -> list[Event]:
        return [Event(r["at"], State(r["state"]), r["error"], r["actor"], r["note"], json.loads(r["detail"]))
                for r in self._q("SELECT * FROM history WHERE job_id=? ORDER BY id", (int(job_id),))]

    def claim(self, job_id: int) -> bool:
        """waiting/retrying -> processing, atomically; False if someone else moved it."""
        def write():
            n = self._db.execute("UPDATE jobs SET state=?, updated_at=? WHERE id=? AND state IN (?, ?)",
                                 (str(PROCESSING), self._clock(), int(job_id), str(WAITING), str(RETRYING))).rowcount
            if n:
                self._history(int(job_id), PROCESSING, None, None, None, {})
            return n == 1
        return self._transaction(write)

    def requeue(self, job_id: int | str, stage: Checkpoint | str = Checkpoint.LOAD, *,
                only_from: Iterable[State] | None = None, actor: str | None = None, note: str | None = None,
                **changes: Any) -> bool:
        """Run the job again from ``stage`` with fresh attempts. False when there is
        no such job, it is in flight right now (the worker's own state write would
        overwrite the requeue when it finishes), or it is not in one of the states
        ``only_from`` names. One atomic step: two people doing it at once requeue it once."""
        stage = Checkpoint(stage)
        allowed = [str(s) for s in only_from] if only_from is not None else [
            str(s) for s in STATES if s not in IN_FLIGHT]
        for key in _JSON:
            if key in changes and not isinstance(changes[key], str):
                changes[key] = json.dumps(changes[key])
        cols = "".join(f", {k}=?" for k in changes)
        marks = ",".join("?" * len(allowed))

        def write():
            n = self._db.execute(
                f"UPDATE jobs SET state=?, stage=?, attempts=0, next_attempt_at=0, error=NULL, error_type=NULL,"
                f" finished_at=NULL, updated_at=?{cols} WHERE id=? AND state IN ({marks})",
                (str(WAITING), str(stage), self._clock(), *changes.values(), int(job_id), *allowed)).rowcount
            if n:
                self._history(int(job_id), WAITING, None, actor, note, {"from": str(stage), **{
                    k: v for k, v in changes.items() if k in ("overrides", "approved")}})
            return n == 1
        try:
            return self._transaction(write)
        except (TypeError, ValueError):
            return False

    def transition(self, job_id: int | str, to: State, *, only_from: Iterable[State], error: str | None = None,
                   actor: str | None = None, note: str | None = None, **changes: Any) -> bool:
        """Move a job to ``to`` only if it is in one of ``only_from`` right now; one
        atomic step, so a decision made twice (two clicks, two reviewers) takes once."""
        for key in _JSON:
            if key in changes and not isinstance(changes[key], str):
                changes[key] = json.dumps(changes[key])
        if to in FINAL and "finished_at" not in changes:
            changes["finished_at"] = self._clock()
        allowed = [str(s) for s in only_from]
        cols = "".join(f", {k}=?" for k in changes)
        marks = ",".join("?" * len(allowed))
        error = _scrub(error)

        def write():
            n = self._db.execute(f"UPDATE jobs SET state=?, error=?, updated_at=?{cols} WHERE id=? AND state IN ({marks})",
                                 (str(to), error, self._clock(), *changes.values(), int(job_id), *allowed)).rowcount
            if n:
                self._history(int(job_id), to, error, actor, note, {})
            return n == 1
        return self._transaction(write)

    def forget(self, job_id: int) -> bool:
        """Drop a version that never existed (a file caught mid-write and since changed).
        A job that left anything behind (an output, a quarantined original, Shopify
        ids) is never dropped: without its row that would be lost or done twice.
        True if the row went."""
        def write():
            n = self._db.execute(
                "DELETE FROM jobs WHERE id=? AND state NOT IN (?, ?, ?, ?) AND output IS NULL"
                " AND quarantined_to IS NULL AND remote='{}'",
                (int(job_id), str(DONE), str(NEEDS_REVIEW), str(QUARANTINED), str(REJECTED))).rowcount
            if n:
                self._db.execute("DELETE FROM history WHERE job_id=?", (int(job_id),))
            return n == 1
        return self._transaction(write)

    def recover(self, keep: Iterable[int] = ()) -> int:
        """Jobs marked in flight that are not (after a crash; or a state write that
        failed, with the disk full) start again from their checkpoint; ``keep``:
        the ids really in flight."""
        keep = [int(i) for i in keep]
        marks = ",".join("?" * len(keep))
        return self._write(f"UPDATE jobs SET state=?, updated_at=? WHERE state IN (?, ?)"
                           f"{f' AND id NOT IN ({marks})' if keep else ''}",
                           (str(WAITING), self._clock(), str(PROCESSING), str(PUBLISHING), *keep))

    def due(self, now: float | None = None, limit: int = 100) -> list[Job]:
        now = self._clock() if now is None else now
        return [_job(r) for r in self._q(
            "SELECT * FROM jobs WHERE state=? OR (state=? AND next_attempt_at<=?) ORDER BY id LIMIT ?",
            (str(WAITING), str(RETRYING), now, limit))]

    def next_retry_at(self) -> float | None:
        row = self._q("SELECT MIN(next_attempt_at) FROM jobs WHERE state=?", (str(RETRYING),))[0]
        return row[0]

    # ------------------------------------------------------------------ queries

    def counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in STATES}
        counts.update({r[0]: r[1] for r in self._q("SELECT state, COUNT(*) FROM jobs GROUP BY state")})
        return counts

    def review_counts(self) -> dict[str, int]:
        """Jobs waiting for a person, by kind of review."""
        return {r[0] or str(ReviewKind.PRODUCT): r[1] for r in self._q(
            "SELECT review_kind, COUNT(*) FROM jobs WHERE state=? GROUP BY review_kind", (str(NEEDS_REVIEW),))}

    def total(self) -> int:
        return self._q("SELECT COUNT(*) FROM jobs")[0][0]

    def queued(self) -> int:
        """Jobs waiting or in flight."""
        return self._q("SELECT COUNT(*) FROM jobs WHERE state IN (?, ?, ?)",
                       (str(WAITING), str(PROCESSING), str(PUBLISHING)))[0][0]

    def done_since(self, since: float) -> int:
        return self._q("SELECT COUNT(*) FROM jobs WHERE state=? AND finished_at>=?", (str(DONE), since))[0][0]

    def oldest_waiting(self) -> Job | None:
        return _job(next(iter(self._q(
            "SELECT * FROM jobs WHERE state IN (?, ?) ORDER BY created_at LIMIT 1",
            (str(WAITING), str(RETRYING)))), None))

    def last_failures(self, limit: int = 5) -> list[Job]:
        return [_job(r) for r in self._q(
            "SELECT * FROM jobs WHERE error IS NOT NULL AND state IN (?, ?, ?) ORDER BY updated_at DESC LIMIT ?",
            (str(RETRYING), str(QUARANTINED), str(NEEDS_REVIEW), limit))]

    def known_files(self) -> dict[str, tuple[int | None, int | None]]:
        """path -> (size, mtime_ns) of its newest version: lets a rescan skip files it has seen.
        Keyed by the display form (see ``daemon.files.display``)."""
        return {r[0]: (r[1], r[2]) for r in self._q(
            "SELECT path, size, mtime_ns FROM jobs WHERE id IN (SELECT MAX(id) FROM jobs GROUP BY path)")}

    def output_owner(self, output: str | Path, other_than: str | Path) -> Job | None:
        """A job from a different original that already wrote ``output``."""
        return _job(next(iter(self._q(
            "SELECT * FROM jobs WHERE output=? AND path<>? AND duplicate_of IS NULL LIMIT 1",
            (str(output), display(other_than)))), None))

    def previous_writer(self, output: str | Path, other_than: int) -> Job | None:
        """The newest other job that wrote ``output`` (an earlier version of the same original)."""
        return _job(next(iter(self._q(
            "SELECT * FROM jobs WHERE output=? AND id<>? AND duplicate_of IS NULL ORDER BY id DESC LIMIT 1",
            (str(output), int(other_than)))), None))

    def twin(self, sha256: str, category: str | None, product_key: str | None, view: str | None,
             index: int | None, other_than: str | Path) -> Job | None:
        """A job from another path with the same bytes bound for the same product,
        view and place (a duplicate copy)."""
        return _job(next(iter(self._q(
            "SELECT * FROM jobs WHERE sha256=? AND category IS ? AND product_key IS ? AND view IS ? AND idx IS ?"
            " AND path<>? AND duplicate_of IS NULL AND state NOT IN (?, ?, ?) ORDER BY id LIMIT 1",
            (sha256, category, product_key, view, index, display(other_than), str(QUARANTINED), str(RETRYING),
             str(REJECTED)))), None))

    # ------------------------------------------------------------------ product sets

    def set_members(self, category: str | None, product_key: str | None) -> list[Job]:
        """The views of one product that count: the newest version of each file,
        no duplicates, nothing quarantined or rejected."""
        return [_job(r) for r in self._q(
            "SELECT * FROM jobs WHERE category IS ? AND product_key IS ? AND duplicate_of IS NULL"
            " AND state NOT IN (?, ?) AND id IN (SELECT MAX(id) FROM jobs WHERE category IS ? AND product_key IS ?"
            " GROUP BY path) ORDER BY id",
            (category, product_key, str(QUARANTINED), str(REJECTED), category, product_key))]

    def recent_products(self, since: float) -> list[tuple[str | None, str | None]]:
        """(category, product key) of every product with a photo seen since ``since``."""
        return [(r[0], r[1]) for r in self._q(
            "SELECT DISTINCT category, product_key FROM jobs WHERE created_at>=? ORDER BY category, product_key",
            (since,))]

    def grouping(self) -> list[tuple[str | None, str | None, float]]:
        """Products with views waiting for the rest: (category, product key, time of the last one)."""
        return [(r[0], r[1], r[2]) for r in self._q(
            "SELECT category, product_key, MAX(updated_at) FROM jobs WHERE state=? GROUP BY category, product_key",
            (str(GROUPING),))]

    def set_scale(self, category: str | None, product_key: str | None) -> float | None:
        """The scale a product's views were released at (None: not released yet)."""
        rows = self._q("SELECT scale FROM product_sets WHERE category=? AND product_key=?",
                       (category or "", product_key or ""))
        return rows[0][0] if rows else None

    def release_set(self, category: str | None, product_key: str | None, scale: float) -> int:
        """The product's views are all in (or no more came): fix its scale and
        queue the waiting views to be rendered at it. Returns how many were queued."""
        def write():
            self._db.execute("INSERT INTO product_sets (category, product_key, scale, released_at) VALUES (?,?,?,?)"
                             " ON CONFLICT (category, product_key) DO UPDATE SET scale=excluded.scale,"
                             " released_at=excluded.released_at",
                             (category or "", product_key or "", scale, self._clock()))
            ids = [r[0] for r in self._db.execute(
                "SELECT id FROM jobs WHERE state=? AND category IS ? AND product_key IS ?",
                (str(GROUPING), category, product_key)).fetchall()]
            for job_id in ids:
                self._db.execute("UPDATE jobs SET state=?, stage='load', updated_at=? WHERE id=?",
                                 (str(WAITING), self._clock(), job_id))
                self._history(job_id, WAITING, None, None, f"the product's views are in: rendered at one scale "
                                                            f"({scale:.4f})", {"set_scale": scale})
            return len(ids)
        return self._transaction(write)

    def shrink_set(self, category: str | None, product_key: str | None, scale: float,
                   keep: Iterable[int] = ()) -> list[int]:
        """A late view needs a smaller scale: make it the product's, and queue its
        other views rendered larger to be rendered again (their published images
        are then replaced in place). ``keep``: jobs in flight, left alone."""
        keep = {int(k) for k in keep}

        def write():
            self._db.execute("UPDATE product_sets SET scale=? WHERE category=? AND product_key=?",
                             (scale, category or "", product_key or ""))
            again = [j.id for j in self.set_members(category, product_key)
                     if j.id not in keep and j.set_scale is not None and j.set_scale > scale + 1e-9
                     and j.state in (DONE, NEEDS_REVIEW, RETRYING, WAITING)]
            for job_id in again:
                self._db.execute("UPDATE jobs SET state=?, stage='load', attempts=0, next_attempt_at=0,"
                                 " updated_at=? WHERE id=?", (str(WAITING), self._clock(), job_id))
                self._history(job_id, WAITING, None, None, f"a later view of the product needs a smaller scale "
                                                            f"({scale:.4f}): rendered again", {"set_scale": scale})
            return again
        return self._transaction(write)

    # ------------------------------------------------------------------ remote progress

    def remote(self, job_id: int | str) -> dict[str, Any]:
        """What the publish flow has recorded for the job (its Shopify ids and steps)."""
        rows = self._q("SELECT remote FROM jobs WHERE id=?", (int(job_id),))
        return json.loads(rows[0][0] or "{}") if rows else {}

    def set_remote(self, job_id: int | str, data: Mapping[str, Any]) -> None:
        """Replace the job's publish progress; durable before it returns."""
        self._write("UPDATE jobs SET remote=?, updated_at=? WHERE id=?",
                    (json.dumps(dict(data)), self._clock(), int(job_id)))

    # ------------------------------------------------------------------ notices

    def notice(self, path: str | os.PathLike, *, root: str | os.PathLike = "", kind: str, reason: str,
               fix: str = "") -> bool:
        """Record that ``path`` could not be taken and why. True when this is
        news (a new file, or a new reason): the caller logs it then, once."""
        now, shown = self._clock(), display(path)
        raw = None if is_plain_text(path) else os.fsencode(path)

        def write():
            row = self._db.execute("SELECT kind, reason FROM notices WHERE path=?", (shown,)).fetchone()
            if row is not None and (row[0], row[1]) == (kind, reason):
                self._db.execute("UPDATE notices SET last_seen=? WHERE path=?", (now, shown))
                return False
            self._db.execute("INSERT INTO notices (path, raw_path, root, kind, reason, fix, first_seen, last_seen)"
                             " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (path) DO UPDATE SET kind=excluded.kind,"
                             " reason=excluded.reason, fix=excluded.fix, last_seen=excluded.last_seen",
                             (shown, raw, display(root), kind, reason, fix, now, now))
            return True
        return self._transaction(write)

    def clear_notice(self, path: str | os.PathLike) -> bool:
        return self._write("DELETE FROM notices WHERE path=?", (display(path),)) == 1

    def notices(self) -> list[Notice]:
        return [Notice(r["path"], r["root"], r["kind"], r["reason"], r["fix"], r["first_seen"], r["last_seen"])
                for r in self._q("SELECT * FROM notices ORDER BY first_seen")]

    def prune_notices(self, root: str | os.PathLike, seen_since: float) -> int:
        """Forget the notices under ``root`` that a full scan begun at ``seen_since`` did not see again."""
        return self._write("DELETE FROM notices WHERE root=? AND last_seen<?", (display(root), seen_since))

