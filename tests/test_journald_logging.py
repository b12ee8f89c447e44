"""Log lines carry journald's priority prefix when, and only when, stderr is
the stream journald gave the service (so `journalctl -p err` filters)."""

from __future__ import annotations

import json
import os

import pytest
import structlog

from daemon import logging as booth_logging


@pytest.fixture
def log_file(tmp_path):
    stream = open(tmp_path / "journal-stream", "w+", encoding="utf-8")
    yield stream
    stream.close()
    structlog.reset_defaults()


def stream_id(stream) -> str:
    st = os.fstat(stream.fileno())
    return f"{st.st_dev}:{st.st_ino}"


def lines_logged(stream) -> list[str]:
    log = structlog.get_logger("test")
    log.debug("probe")
    log.info("photo taken", path="a.jpg")
    log.warning("slow upload")
    log.error("upload failed")
    try:
        raise ValueError("bad photo")
    except ValueError:
        log.exception("quarantined")
    stream.flush()
    stream.seek(0)
    return stream.read().splitlines()


def test_lines_on_journald_carry_their_priority(log_file, monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", stream_id(log_file))
    booth_logging.configure(level="debug", fmt="json", stream=log_file)
    lines = lines_logged(log_file)
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>", "<3>"]
    assert json.loads(lines[1][3:])["event"] == "photo taken"
    assert "bad photo" in lines[4]  # the traceback stays on the same, single line


@pytest.mark.parametrize("journal_stream", [None, "1:2"])
def test_no_prefix_off_journald(log_file, monkeypatch, journal_stream):
    # Unset, or set for a stream this one is not (inherited by a child whose stderr was redirected).
    if journal_stream is None:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    else:
        monkeypatch.setenv("JOURNAL_STREAM", journal_stream)
    booth_logging.configure(level="info", fmt="json", stream=log_file)
    lines = lines_logged(log_file)
    assert all(line.startswith("{") for line in lines)


def test_a_stream_without_a_file_is_not_journald(monkeypatch):
    import io

    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    assert not booth_logging.on_journald(io.StringIO())
