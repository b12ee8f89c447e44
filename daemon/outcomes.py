"""How a job's run ended, as one value per outcome, and the two subscribers
every daemon has: the journal writer (critical: the state must be on disk
before anyone is told) and the log line. Metrics and sd_notify subscribe to
the same events (``daemon.metrics``, ``daemon.notify``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from daemon import events as ev
from daemon.journal import Job, Journal, State
from daemon.logging import get_logger


@dataclass(frozen=True)
class Outcome:
    """``event`` is one of ``daemon.events.OUTCOMES``; ``state`` what the journal
    records (None: the job's row goes, a version that never settled);
    ``changes`` the journal columns set with it; ``fields`` extra log fields."""

    event: str
    job: Job
    state: State | None
    stage: str = ""
    error: str | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def job_id(self) -> int:
        return self.job.id

    @property
    def path(self) -> str:
        return self.job.path

    @property
    def output(self) -> str | None:
        return self.changes.get("output", self.job.output)

    @property
    def timings(self) -> dict[str, float]:
        return dict(self.changes.get("timings") or {})

    @property
    def attempt(self) -> int:
        return int(self.changes.get("attempts", self.job.attempts))

    @property
    def permanent(self) -> bool:
        """The job will not be tried again by itself."""
        return self.event in (ev.JOB_QUARANTINED, ev.JOB_HELD)


class JournalWriter:
    """Writes each outcome's state; subscribed as critical, so a failed write
    (a full disk) reaches the worker, which leaves the job to the orphan check."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def subscribe(self, events: ev.Events) -> None:
        for name in ev.OUTCOMES:
            events.subscribe(name, self, critical=True)

    def __call__(self, outcome: Outcome, **_: Any) -> None:
        if outcome.state is None:
            return  # forgotten: the worker dropped the row itself (it may refuse)
        self._journal.set_state(outcome.job.id, outcome.state, error=outcome.error, **outcome.changes)


_MESSAGES = {
    ev.JOB_FINISHED: ("info", "finished; publishing"),
    ev.JOB_DONE: ("info", "job done"),
    ev.JOB_HELD: ("warning", "needs review"),
    ev.JOB_RETRYING: ("warning", "job failed, will retry"),
    ev.JOB_QUARANTINED: ("error", "quarantined"),
    ev.JOB_FORGOTTEN: ("info", "original changed or vanished before it was finished; taking the new version"),
    ev.JOB_GROUPED: ("info", "waiting for the product's other views, to render them at one scale"),
}


class OutcomeLog:
    """One log line per outcome, bound to the job (id, path, category, product)."""

    def subscribe(self, events: ev.Events) -> None:
        for name in ev.OUTCOMES:
            events.subscribe(name, self)

    def __call__(self, outcome: Outcome, **_: Any) -> None:
        level, message = _MESSAGES[outcome.event]
        job = outcome.job
        log = get_logger("job", job_id=job.id, path=job.path, category=job.category,
                         product_key=job.product_key, stage=outcome.stage or None)
        extra = dict(outcome.fields)
        if outcome.error:
            extra.setdefault("error", outcome.error)
        getattr(log, level)(message, **extra)
