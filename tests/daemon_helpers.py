"""Test helpers for the daemon: a real ``booth run`` process against a temp config,
real photos on disk, and the journal read the way ``booth status`` reads it."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# Run as root without root's power over file modes, the way the service user meets them.
UNPRIVILEGED = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


def can_drop_privileges() -> bool:
    """Whether file modes can be made to bind a test process (not root, or root that can drop the overrides)."""
    import shutil as _shutil
    if os.geteuid() != 0:
        return True
    if _shutil.which("setpriv") is None:
        return False
    return subprocess.run([*UNPRIVILEGED, "true"], capture_output=True).returncode == 0


def photo_bytes(width: int = 300, height: int = 300, seed: int = 0, fmt: str = "JPEG") -> bytes:
    """A product on a white sweep: a coloured block with a little noise (unique per seed)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 246, np.uint8)
    y0, y1, x0, x1 = height // 4, height * 3 // 4, width // 3, width * 2 // 3
    img[y0:y1, x0:x1] = rng.integers(20, 120, 3, dtype=np.uint8)
    img[y0:y1, x0:x1] += rng.integers(0, 12, (y1 - y0, x1 - x0, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, quality=90)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def wait_for(predicate: Callable[[], object], timeout: float, what: str = "condition", every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Daemon:
    """One ``booth run`` process with its own folders under ``root``."""

    def __init__(self, root: Path, settle: float = 0.5, *, unprivileged: bool = False, umask: int | None = None,
                 **overrides) -> None:
        """``unprivileged``: run without the permission overrides root has
        (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so file modes bind it as they
        bind the service user; ``umask``: the process umask (the unit's UMask=)."""
        self.root = root
        self.unprivileged = unprivileged
        self.umask = umask
        self.inbox = root / "inbox"
        self.outbox = root / "outbox"
        self.state = root / "state"
        self.quarantine = root / "quarantine"
        self.archive = root / "archive"
        self.config_path = root / "config.yaml"
        self.log_path = root / "daemon.log"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.settings = {
            "state_dir": str(self.state), "quarantine_dir": str(self.quarantine),
            "archive_dir": str(self.archive),
            "watch": {"paths": [str(self.inbox)], "settle_seconds": settle, "rescan_seconds": 30,
                      "empty_grace_seconds": 1.0},
            "output": {"dir": str(self.outbox)},
            "workers": {"max_in_memory": 4, "max_attempts": 30, "retry_base_seconds": 0.2,
                        "retry_max_seconds": 1.0, "shutdown_timeout": 20},
            "categories": {"default": {"compose": {"width": 256, "height": 256},
                                       "encode": {"quality": 85}, "review": {"mode": "never"}}},
            "review": {"enabled": False},
            "logging": {"level": "info", "format": "json"},
        }
        _merge(self.settings, overrides)
        self.write_config()
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    def write_config(self, text: str | None = None) -> None:
        self.config_path.write_text(text if text is not None else yaml.safe_dump(self.settings))

    # ------------------------------------------------------------------ process

    def command(self, *args: str) -> list[str]:
        cmd = [sys.executable, "-m", "daemon.cli", *args]
        return [*UNPRIVILEGED, *cmd] if self.unprivileged and os.geteuid() == 0 else cmd

    def launch(self, *extra: str, env: dict | None = None) -> subprocess.Popen:
        """Start ``booth run`` without waiting for it to be ready."""
        self._log_file = open(self.log_path, "ab")
        umask = self.umask
        self.proc = subprocess.Popen(
            self.command("run", "--config", str(self.config_path), *extra),
            cwd=REPO, stdout=self._log_file, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_SOCKET": "", **(env or {})},
            preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
        return self.proc

    def start(self, ready_timeout: float = 60, env: dict | None = None, extra: tuple[str, ...] = ()) -> "Daemon":
        self._ready_before = self.log_text().count('"event": "ready"')
        self.launch(*extra, env=env)
        wait_for(lambda: self.log_text().count('"event": "ready"') > self._ready_before or self._died(),
                 ready_timeout, "the daemon to be ready")
        assert self.proc.poll() is None, self.log_text()[-4000:]
        return self

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def send(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if self._log_file:
                self._log_file.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        if self._log_file:
            self._log_file.close()

    # ------------------------------------------------------------------ what happened

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self) -> list[dict]:
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def jobs(self, state: str | None = None) -> list[dict]:
        """Jobs from the journal, read through sqlite the way ``booth jobs`` does."""
        import sqlite3

        path = self.state / "journal.sqlite3"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute("SELECT * FROM jobs" + (" WHERE state=?" if state else "") + " ORDER BY id",
                              (state,) if state else ()).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            db.close()
        return [dict(r) for r in rows]

    def outputs(self) -> list[Path]:
        return sorted(p for p in self.outbox.rglob("*") if p.is_file() and not p.name.startswith("."))

    def wait_done(self, count: int, timeout: float = 60) -> list[dict]:
        return wait_for(lambda: (lambda d: d if len(d) >= count else None)(self.jobs("done")), timeout,
                        f"{count} jobs done")

    def booth(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args, "--config", str(self.config_path)),
                              cwd=REPO, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **(env or {})})


def _merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
