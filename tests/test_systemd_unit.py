"""systemd/booth.service: what the daemon relies on is in the unit, and
systemd itself accepts it (``systemd-analyze verify``) and scores its
hardening (``systemd-analyze security --offline=true``) where it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.config import WorkersConfig
from integrations.shopify.config import ShopifyConfig

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "booth.service"
DROP_IN = REPO / "systemd" / "booth.service.d" / "paths.conf.example"
MAX_EXPOSURE = 2.5

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze is not installed")


def settings(path: Path = UNIT) -> dict[str, list[str]]:
    """``Section.Key`` -> every value assigned, in order (keys may repeat)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def one(key: str) -> str:
    values = settings()[key]
    assert len(values) == 1, f"{key} is set {len(values)} times"
    return values[0]


def seconds(value: str) -> float:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


@pytest.mark.parametrize("key, value", [
    ("Service.Type", "notify"),
    ("Service.NotifyAccess", "main"),
    ("Service.ExecStart", "/opt/booth/.venv/bin/booth run --config /etc/booth/config.yaml"),
    ("Service.Restart", "on-failure"),
    ("Service.KillMode", "mixed"),
    ("Service.User", "booth"),
    ("Service.StateDirectory", "booth"),
    ("Service.ProtectSystem", "strict"),
    ("Service.NoNewPrivileges", "yes"),
    ("Service.PrivateTmp", "yes"),
    ("Service.LockPersonality", "yes"),
    ("Service.ProtectKernelTunables", "yes"),
    ("Service.ProtectControlGroups", "yes"),
    ("Service.ProtectClock", "yes"),
    ("Service.DevicePolicy", "closed"),
    ("Service.SupplementaryGroups", "video"),
])
def test_unit_sets(key, value):
    assert one(key) == value


def test_stop_timeout_covers_the_graceful_drain():
    drain = WorkersConfig().shutdown_timeout
    stop = seconds(one("Service.TimeoutStopSec"))
    assert drain < stop <= drain + 30


def test_watchdog_is_armed():
    assert seconds(one("Service.WatchdogSec")) >= 10


def test_gpu_stays_reachable():
    unit = settings()
    assert unit.get("Service.PrivateDevices", ["no"]) == ["no"]
    assert "Service.PrivateUsers" not in unit  # would map the video group away
    assert "Service.DynamicUser" not in unit  # shared folders need a stable owner
    allowed = " ".join(unit["Service.DeviceAllow"])
    for node in ("nvidiactl", "nvidia-uvm", "nvidia-frontend"):
        assert f"char-{node} rw" in allowed


def test_network_and_syscalls_are_narrowed():
    unit = settings()
    assert unit["Service.RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert unit["Service.SystemCallFilter"][0] == "@system-service"


def test_shopify_token_arrives_as_a_credential():
    name = ShopifyConfig().token_credential
    assert one("Service.LoadCredential") == f"{name}:/etc/booth/credentials/{name}"


def test_drop_in_adds_writable_paths():
    assert settings(DROP_IN)["Service.ReadWritePaths"]


@pytest.fixture
def installed(tmp_path) -> Path:
    """The unit plus the example drop-in, as systemd would load them; ExecStart
    points at an existing program because verify checks that it exists."""
    unit = tmp_path / "booth.service"
    unit.write_text(UNIT.read_text().replace("/opt/booth/.venv/bin/booth", sys.executable))
    (tmp_path / "booth.service.d").mkdir()
    shutil.copy(DROP_IN, tmp_path / "booth.service.d" / "paths.conf")
    return unit


@needs_systemd
@pytest.mark.systemd
def test_systemd_analyze_verify_accepts_the_unit(installed):
    done = subprocess.run(["systemd-analyze", "verify", str(installed)],
                          capture_output=True, text=True, timeout=60, cwd=installed.parent)
    # verify exits 0 on unknown keys and bad values too; they show up as warnings.
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@needs_systemd
@pytest.mark.systemd
def test_systemd_analyze_security_scores_the_unit(installed):
    help_text = subprocess.run(["systemd-analyze", "security", "--help"], capture_output=True, text=True).stdout
    if "--offline" not in help_text:
        pytest.skip("systemd-analyze security has no --offline (systemd < 250)")
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(installed)],
                          capture_output=True, text=True, timeout=60, cwd=installed.parent)
    found = re.search(r"Overall exposure level for booth\.service:\s*([\d.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, done.stdout
