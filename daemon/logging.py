"""Structured logging: JSON lines when not on a terminal, readable console
output on one. Secrets registered with ``register_secret`` are redacted from
every line, and tracebacks never carry local variables."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

from integrations import secrets
from integrations.secrets import REDACTED  # noqa: F401 - part of this module's interface


def register_secret(value: str | None) -> None:
    """Never print ``value`` again, in any form (an access token, a client secret)."""
    secrets.register(value)


def redact(text: str) -> str:
    return secrets.scrub(text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v) for v in value)
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return value


def redact_secrets(_logger, _name, event_dict: dict) -> dict:
    """structlog processor: replaces every registered secret, anywhere in the event."""
    return {k: _scrub(v) for k, v in event_dict.items()}


# syslog priorities (sd-daemon(3)): journald reads a "<N>" line prefix on its
# stream as the line's priority, so `journalctl -p err` can filter on it.
JOURNAL_PRIORITY = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4, "info": 6, "debug": 7}


def on_journald(stream, environ=os.environ) -> bool:
    """Whether ``stream`` is connected to journald: systemd sets $JOURNAL_STREAM
    to "device:inode" of the stream it gave the service. Comparing them tells a
    service's own stderr from one redirected to a file or a pipe by a child."""
    expected = environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return bool(expected) and expected == f"{st.st_dev}:{st.st_ino}"


class JournalPriority:
    """Wraps the final renderer: prefixes each rendered line with its priority."""

    def __init__(self, renderer) -> None:
        self.renderer = renderer

    def __call__(self, logger, name: str, event_dict: dict) -> str:
        level = str(event_dict.get("level", name)).lower()
        return f"<{JOURNAL_PRIORITY.get(level, 6)}>" + self.renderer(logger, name, event_dict)


def configure(level: str = "info", fmt: str = "auto", stream=None) -> None:
    """Configure structlog once, and send the standard library's log records
    (watchdog's, a library's warning, a traceback logged through ``logging``)
    through the same processors, so every line is one JSON object (or console
    line) with secrets redacted."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == "json":
        renderer: list = [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            redact_secrets,
            structlog.processors.JSONRenderer(),
        ]
    else:
        renderer = [
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.dev.ConsoleRenderer(colors=stream.isatty()),
        ]
    if on_journald(stream):
        renderer[-1] = JournalPriority(renderer[-1])
    structlog.configure(
        processors=[*shared, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer]))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_booth", False)]:
        root.removeHandler(old)
    handler._booth = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(max(logging.WARNING, getattr(logging, level.upper())))


def get_logger(name: str | None = None, **bind):
    return structlog.get_logger(name).bind(**bind) if bind else structlog.get_logger(name)
