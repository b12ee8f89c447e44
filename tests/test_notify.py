"""The sd_notify protocol against a real AF_UNIX datagram socket, as systemd
would see it: READY, WATCHDOG, STATUS and STOPPING in order, and no watchdog
pings once the daemon stops being healthy."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field

import pytest

from daemon import events as ev
from daemon.notify import (
    Notifier, WatchdogPinger, attach, socket_address, unhealthy_reason, watchdog_interval,
)

INTERVAL_USEC = 100_000  # WATCHDOG_USEC: a ping every 50 ms


@dataclass
class FakeHealth:
    """Mutable stand-in for Service.health(): tests flip its fields."""

    observer_alive: bool = True
    workers_alive: bool = True
    idle: bool = True
    last_progress: float = field(default_factory=time.monotonic)
    queue_depth: int = 0
    last_done: str | None = None

    def __call__(self) -> FakeHealth:
        return self


class Systemd:
    """The receiving end of $NOTIFY_SOCKET."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)

    def receive(self, timeout: float = 0.0) -> list[str]:
        """Every message that arrives within ``timeout`` (or is already there)."""
        out, deadline = [], time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                out.append(self.sock.recv(4096).decode())
            except (TimeoutError, socket.timeout):
                return out

    def wait_for(self, prefix: str, timeout: float = 2.0) -> list[str]:
        """Messages up to and including the first starting with ``prefix``."""
        got, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                got.append(self.sock.recv(4096).decode())
            except (TimeoutError, socket.timeout):
                break
            if got[-1].startswith(prefix):
                return got
        raise AssertionError(f"no {prefix!r} within {timeout} s; got {got}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd():
    # A short folder: AF_UNIX paths are limited to 108 bytes.
    folder = tempfile.mkdtemp(prefix="sdn")
    receiver = Systemd(os.path.join(folder, "notify"))
    receiver.env = {"NOTIFY_SOCKET": os.path.join(folder, "notify"), "WATCHDOG_USEC": str(INTERVAL_USEC)}
    yield receiver
    receiver.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def running(systemd):
    """A daemon's events wired to systemd, announced ready."""
    events, health = ev.Events(), FakeHealth()
    handle = attach(events, health, Notifier.from_env(systemd.env), environ=systemd.env)
    events.emit(ev.READY, segmenter="white-studio", provider="CPUExecutionProvider")
    yield events, health, handle
    handle.close()


def test_lifecycle_messages_arrive_in_order(systemd, running):
    events, _health, _handle = running
    assert systemd.wait_for("READY=1")[0].startswith("READY=1\nSTATUS=ready (white-studio")
    systemd.wait_for("WATCHDOG=1")
    events.emit(ev.QUEUE_DEPTH, depth=2)
    events.emit(ev.JOB_DONE, job_id=1, path="/srv/inbox/048459373763_FrontView_1.jpg",
                output="/srv/outbox/cameras/048459373763/front.jpg", ms={"segment": 800.0})
    events.emit(ev.STOPPING)
    got = [m for m in systemd.wait_for("STOPPING=1") if m != "WATCHDOG=1"]
    assert got == ["STATUS=queue 2, done 0, last done: -",
                   "STATUS=queue 2, done 1, last done: 048459373763_FrontView_1.jpg",
                   "STOPPING=1\nSTATUS=stopping: draining 2 queued"]


def test_a_reload_is_announced_and_ends_with_ready_naming_the_segmenter(systemd, running):
    events, _health, _handle = running
    systemd.wait_for("READY=1")
    events.emit(ev.RELOADING)
    reloading = systemd.wait_for("RELOADING=1")[-1].split("\n")
    assert reloading[0] == "RELOADING=1" and reloading[1].startswith("MONOTONIC_USEC=")
    assert 0 < int(reloading[1].split("=")[1]) <= time.monotonic_ns() // 1000
    events.emit(ev.RELOADED, segmenter="birefnet-general", provider="CUDAExecutionProvider")
    ready = [m for m in systemd.wait_for("READY=1") if m.startswith("READY=1")]
    assert ready[-1].startswith("READY=1\nSTATUS=ready (birefnet-general, CUDAExecutionProvider)")


def test_no_pings_after_the_observer_dies(systemd, running):
    _events, health, _handle = running
    systemd.wait_for("WATCHDOG=1")
    health.observer_alive = False
    systemd.receive(timeout=0.1)  # a tick already under way may still land
    assert "WATCHDOG=1" not in systemd.receive(timeout=0.4)


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_no_pings_while_a_busy_worker_makes_no_progress(systemd):
    clock = Clock()
    health = FakeHealth(idle=False, last_progress=clock.now)
    pinger = WatchdogPinger(Notifier.from_env(systemd.env), health, interval=30.0, stall_seconds=600.0,
                            clock=clock)
    assert pinger.tick() and systemd.wait_for("WATCHDOG=1")
    clock.now += 601  # busy, and no stage has finished for longer than a stall
    assert not pinger.tick()
    health.last_progress = clock.now  # a stage finished: pings resume
    assert pinger.tick() and systemd.wait_for("WATCHDOG=1")


def test_pings_resume_soon_after_a_moment_of_ill_health(systemd):
    # A config reload restarts the observer: the ping skipped then must not
    # wait a whole interval (30 s in production) to come back.
    health = FakeHealth(observer_alive=False)
    pinger = WatchdogPinger(Notifier.from_env(systemd.env), health, interval=30.0)
    assert not pinger.tick() and pinger.next_wait() <= 1.0
    health.observer_alive = True
    assert pinger.tick() and pinger.next_wait() == 30.0
    assert systemd.wait_for("WATCHDOG=1")


def test_a_drain_keeps_the_watchdog_fed_without_the_observer(systemd, running):
    events, health, _handle = running
    events.emit(ev.STOPPING)
    health.observer_alive = False  # stopped on purpose: intake ends first
    systemd.wait_for("STOPPING=1")
    systemd.receive(timeout=0.1)
    assert "WATCHDOG=1" in systemd.receive(timeout=0.3)


def test_abstract_socket_name():
    name = f"booth-test-{os.getpid()}-{time.monotonic_ns()}"
    receiver = Systemd("\0" + name)
    try:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert receiver.wait_for("READY=1") == ["READY=1"]
    finally:
        receiver.close()


def test_without_notify_socket_every_call_is_a_no_op():
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    assert notifier.ready() is False and notifier.watchdog() is False and notifier.stopping() is False


def test_a_status_text_cannot_inject_assignments(systemd):
    Notifier.from_env(systemd.env).status("queue 1\nREADY=1")
    assert systemd.wait_for("STATUS=") == ["STATUS=queue 1 READY=1"]


@pytest.mark.parametrize("name, address", [("/run/systemd/notify", "/run/systemd/notify"),
                                           ("@booth", "\0booth")])
def test_socket_address(name, address):
    assert socket_address(name) == address


def test_socket_address_rejects_what_it_cannot_speak():
    with pytest.raises(ValueError, match="vsock"):
        socket_address("vsock:2:1234")


@pytest.mark.parametrize("environ, interval", [
    ({"WATCHDOG_USEC": "60000000"}, 30.0),
    ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
    ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
    ({}, None),
    ({"WATCHDOG_USEC": "0"}, None),
])
def test_watchdog_interval_is_half_of_watchdog_usec(environ, interval):
    assert watchdog_interval(environ) == interval


@pytest.mark.parametrize("change, healthy", [
    ({}, True),
    ({"observer_alive": False}, False),
    ({"workers_alive": False}, False),
    ({"idle": False, "last_progress": 990.0}, True),   # busy, a stage done 10 s ago
    ({"idle": False, "last_progress": 600.0}, False),  # busy, nothing done for 400 s
    ({"idle": True, "last_progress": 0.0}, True),      # idle for ages is fine
])
def test_unhealthy_reason(change, healthy):
    health = FakeHealth(**{"last_progress": 1000.0, **change})
    assert (unhealthy_reason(health, now=1000.0, stall_seconds=300) is None) == healthy


@pytest.mark.parametrize("change, healthy", [
    ({"observer_alive": False, "workers_alive": False, "idle": True}, True),    # drained, threads ended
    ({"observer_alive": False, "idle": False, "last_progress": 990.0}, True),   # draining, progressing
    ({"observer_alive": False, "idle": False, "last_progress": 600.0}, False),  # the drain hangs
])
def test_unhealthy_reason_while_draining(change, healthy):
    health = FakeHealth(**{"last_progress": 1000.0, **change})
    assert (unhealthy_reason(health, now=1000.0, stall_seconds=300, draining=True) is None) == healthy


def test_a_failing_health_probe_stops_the_pings():
    def broken():
        raise RuntimeError("service lock poisoned")

    pinger = WatchdogPinger(Notifier(None), broken, interval=1.0)
    assert pinger.tick() is False


def test_no_pinger_outside_systemd():
    events = ev.Events()
    handle = attach(events, FakeHealth(), Notifier(None), environ={"WATCHDOG_USEC": "100000"})
    events.emit(ev.READY)
    assert handle.pinger is None
    handle.close()
