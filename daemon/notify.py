"""systemd's notify protocol: READY=1, RELOADING=1, STATUS=, WATCHDOG=1, STOPPING=1.

The protocol is one datagram of ``KEY=value`` lines sent to the AF_UNIX socket
named by ``$NOTIFY_SOCKET`` (a name starting with ``@`` lives in the abstract
namespace). It is a handful of lines, so it is spoken here directly rather
than through a dependency. Outside systemd (no ``$NOTIFY_SOCKET``) every call
is a no-op, so the daemon runs the same way in a terminal.

``attach`` subscribes a ``Notifier`` to the daemon's lifecycle events;
``WatchdogPinger`` feeds the watchdog only while the daemon is healthy, so a
hung observer or a stuck worker gets the service restarted.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import structlog

from daemon import events as ev

log = structlog.get_logger("notify")

# Busy this long without any stage finishing is taken for a hang. Longer than
# the slowest honest stage: a Shopify upload may wait minutes for processing.
DEFAULT_STALL_SECONDS = 600.0
# While unhealthy, look again this often: a moment of ill health (the observer
# restarted by a config reload) should not cost a whole ping interval.
RECHECK_SECONDS = 1.0


def socket_address(name: str) -> str:
    """``$NOTIFY_SOCKET`` -> an AF_UNIX address; ``@name`` is abstract (leading NUL)."""
    if name.startswith("@"):
        return "\0" + name[1:]
    if name.startswith("/"):
        return name
    raise ValueError(f"unsupported NOTIFY_SOCKET {name!r} (expected a path or an @abstract name)")


class Notifier:
    """Sends notify messages; every method is a no-op without a socket."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        name = environ.get("NOTIFY_SOCKET")
        if not name:
            return cls(None)
        try:
            return cls(socket_address(name))
        except ValueError as exc:
            log.warning("sd_notify disabled", reason=str(exc))
            return cls(None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """One datagram of ``KEY=value`` lines. Failures are logged, never raised:
        losing a status line must not take the daemon down."""
        if self.address is None:
            return False
        message = "\n".join(lines).encode("utf-8", "replace")
        try:
            with self._lock:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(message, self.address)
        except OSError as exc:
            log.warning("sd_notify send failed", error=str(exc), message=lines[0].split("=")[0])
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        """RELOADING=1 (ended by the next READY=1); MONOTONIC_USEC lets systemd
        tell this reload from an earlier one."""
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start/stop time (a first model warm-up, a long drain)."""
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def _one_line(text: str) -> str:
    # A newline would start a new KEY=value assignment in the datagram.
    return " ".join(str(text).split())


def watchdog_interval(environ: Mapping[str, str] = os.environ) -> float | None:
    """Seconds between pings (half of ``$WATCHDOG_USEC``), or None when systemd
    expects none from this process."""
    usec = environ.get("WATCHDOG_USEC")
    pid = environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2 / 1_000_000 if value > 0 else None


# --------------------------------------------------------------------------- health

class HealthLike(Protocol):
    """What ``Service.health()`` returns (duck-typed: any object with these fields)."""

    observer_alive: bool
    workers_alive: bool
    idle: bool
    last_progress: float   # time.monotonic() of the last stage finished
    queue_depth: int
    last_done: str | None


def unhealthy_reason(health: HealthLike, now: float, stall_seconds: float,
                     *, draining: bool = False) -> str | None:
    """Why the daemon should not feed the watchdog, or None when it is healthy.

    Healthy: the observer thread and the workers are alive, and the workers are
    idle or finished a stage within ``stall_seconds``. While draining, threads
    end on purpose: only a drain that stops making progress is a hang.
    """
    if not draining and not health.observer_alive:
        return "the folder observer thread is dead"
    if not draining and not health.workers_alive:
        return "a worker thread is dead"
    if not health.idle and now - health.last_progress > stall_seconds:
        return f"no progress for {now - health.last_progress:.0f} s with work queued"
    return None


class WatchdogPinger(threading.Thread):
    """Sends WATCHDOG=1 every ``interval`` seconds while ``health()`` says the
    daemon is healthy. When it is not, the pings stop and systemd, after
    ``WatchdogSec``, kills and restarts the service."""

    def __init__(self, notifier: Notifier, health: Callable[[], HealthLike], interval: float,
                 stall_seconds: float = DEFAULT_STALL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name="watchdog-pinger", daemon=True)
        self.notifier = notifier
        self.health = health
        self.interval = interval
        self.stall_seconds = stall_seconds
        self.clock = clock
        self._halt = threading.Event()
        self._draining = threading.Event()
        self._last_reason: str | None = None

    def run(self) -> None:
        while True:
            self.tick()
            if self._halt.wait(self.next_wait()):
                return

    def next_wait(self) -> float:
        """Seconds to the next check: the interval while healthy, soon while not
        (a moment of ill health must not cost a whole ping interval)."""
        return self.interval if self._last_reason is None else min(self.interval, RECHECK_SECONDS)

    def tick(self) -> bool:
        """One check; pings when healthy. Returns whether it pinged."""
        reason = self._reason()
        if reason != self._last_reason:
            # Log transitions only: a hang would otherwise log every interval.
            if reason:
                log.error("watchdog pings stopped", reason=reason)
            else:
                log.info("watchdog pings resumed")
            self._last_reason = reason
        return reason is None and self.notifier.watchdog()

    def _reason(self) -> str | None:
        try:
            health = self.health()
        except Exception as exc:  # a broken health probe is itself a hang signal
            return f"health check failed: {exc}"
        return unhealthy_reason(health, self.clock(), self.stall_seconds, draining=self._draining.is_set())

    def draining(self) -> None:
        """Intake and then the workers stop on purpose: their threads ending is no
        longer a fault, but a drain that stalls still is."""
        self._draining.set()

    def stop(self) -> None:
        self._halt.set()


# --------------------------------------------------------------------------- wiring

class StatusLine:
    """The one-line ``systemctl status`` text, kept from lifecycle events."""

    def __init__(self) -> None:
        self.depth = 0
        self.done = 0
        self.failed = 0
        self.last_done: str | None = None
        self._lock = threading.Lock()

    def job_done(self, path: Any = None, outcome: Any = None, **_: Any) -> str:
        path = outcome.path if outcome is not None else path
        with self._lock:
            self.done += 1
            self.last_done = Path(str(path)).name if path else self.last_done
            return self.text()

    def job_failed(self, permanent: bool = False, **_: Any) -> str:
        with self._lock:
            self.failed += 1 if permanent else 0
            return self.text()

    def queue_depth(self, depth: int = 0, **_: Any) -> str:
        with self._lock:
            self.depth = int(depth)
            return self.text()

    def text(self) -> str:
        parts = [f"queue {self.depth}", f"done {self.done}"]
        if self.failed:
            parts.append(f"quarantined {self.failed}")
        parts.append(f"last done: {self.last_done or '-'}")
        return ", ".join(parts)


class NotifyHandle:
    """What ``attach`` returns: the pinger (once started) and a ``close``."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.pinger: WatchdogPinger | None = None
        self.status = StatusLine()
        self._last_sent: str | None = None
        self._lock = threading.Lock()

    def send_status(self, text: str) -> None:
        with self._lock:
            if text == self._last_sent:
                return
            self._last_sent = text
        self.notifier.status(text)

    def close(self) -> None:
        if self.pinger is not None:
            self.pinger.stop()
            self.pinger.join(timeout=5)
        self.notifier.close()


def attach(events: ev.Events, health: Callable[[], HealthLike], notifier: Notifier,
           *, environ: Mapping[str, str] = os.environ,
           stall_seconds: float = DEFAULT_STALL_SECONDS) -> NotifyHandle:
    """Subscribe ``notifier`` to the daemon's lifecycle events.

    READY -> READY=1 and the first status, and the watchdog pinger starts (systemd
    arms the watchdog only once start-up is complete). RELOADING -> RELOADING=1,
    RELOADED -> READY=1 again with the (maybe new) segmenter. QUEUE_DEPTH, JOB_DONE,
    JOB_FAILED -> STATUS=. STOPPING -> STOPPING=1; the pinger keeps feeding the
    watchdog through the drain as long as the workers make progress.
    """
    handle = NotifyHandle(notifier)
    interval = watchdog_interval(environ)

    def on_ready(**fields: Any) -> None:
        notifier.ready(_ready_text(fields, handle.status))
        if interval and notifier.enabled and handle.pinger is None:
            handle.pinger = WatchdogPinger(notifier, health, interval, stall_seconds)
            handle.pinger.start()

    def on_stopping(**_: Any) -> None:
        if handle.pinger is not None:
            handle.pinger.draining()
        notifier.stopping(f"stopping: draining {handle.status.depth} queued")

    events.subscribe(ev.READY, on_ready)
    events.subscribe(ev.QUEUE_DEPTH, lambda **f: handle.send_status(handle.status.queue_depth(**f)))
    events.subscribe(ev.JOB_DONE, lambda **f: handle.send_status(handle.status.job_done(**f)))
    events.subscribe(ev.JOB_QUARANTINED, lambda **f: handle.send_status(handle.status.job_failed(permanent=True)))
    events.subscribe(ev.JOB_RETRYING, lambda **f: handle.send_status(handle.status.job_failed(permanent=False)))
    events.subscribe(ev.STOPPING, on_stopping)
    events.subscribe(ev.RELOADING, lambda **_: notifier.reloading())
    events.subscribe(ev.RELOADED, lambda **f: notifier.ready(_ready_text(f, handle.status)))
    return handle


def _ready_text(fields: Mapping[str, Any], status: StatusLine) -> str:
    what = [str(fields[k]) for k in ("segmenter", "provider") if fields.get(k)]
    return f"ready ({', '.join(what)}); {status.text()}" if what else f"ready; {status.text()}"
