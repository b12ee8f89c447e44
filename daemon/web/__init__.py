"""The review page ``booth run`` serves (``review.enabled``): every doubtful
cut-out, seen by a person before it reaches the shop.

``start_review_server(service)`` binds ``review.host:review.port`` (port 0:
a free one), checks who may reach it (``daemon.web.access``) and serves the
app (``daemon.web.app``) with uvicorn on a thread of its own. The daemon owns
the signals: uvicorn installs none off the main thread, and ``close()`` stops
it in the service's shutdown order.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn

from daemon.config import ConfigError
from daemon.logging import get_logger, register_secret
from daemon.web.access import Access, ReviewSettings, is_loopback, review_token

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

log = get_logger("review.page")


class ReviewServer:
    """The running page: ``url`` to reach it, ``close()`` to stop it."""

    def __init__(self, app, sock: socket.socket, url: str) -> None:
        self.url = url
        self.address = sock.getsockname()[:2]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", loop="asyncio",
                                http="h11", ws="none", proxy_headers=False, server_header=False,
                                timeout_graceful_shutdown=3)
        self._server = _Uvicorn(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="review-page", daemon=True)
        self._failed: BaseException | None = None

    def start(self) -> ReviewServer:
        self._thread.start()
        if not self._server.ready.wait(START_TIMEOUT) or not self._server.started:
            self.close()
            raise ConfigError(f"the review page at {self.url} did not start"
                              + (f": {self._failed}" if self._failed else ""))
        return self

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # noqa: BLE001 - uvicorn exits with SystemExit on a startup failure
            self._failed = exc
            log.error("the review page stopped", error=str(exc) or type(exc).__name__)
        finally:
            self._server.ready.set()

    def close(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(STOP_TIMEOUT)
        try:
            self._sock.close()
        except OSError:
            pass


class _Uvicorn(uvicorn.Server):
    """uvicorn's Server, saying when it listens (so start() waits on an event, not a guess)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; ConfigError naming it and why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"review: cannot listen on {host}:{port}: {exc.strerror or exc} "
                          "(review.host must be an address of this machine)") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(64)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        hint = {98: "another program (or another booth run) already uses that port; pick another review.port, "
                    "or 0 for a free one",
                13: "ports under 1024 need privileges; pick a port of 1024 or more",
                99: "that address is not one of this machine's"}.get(exc.errno, "")
        raise ConfigError(f"review: cannot listen on {host}:{port}: {why}" + (f" ({hint})" if hint else "")) from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def start_review_server(service: Any) -> ReviewServer:
    """Serve the review page for a running ``Service``; ConfigError when it cannot or must not."""
    from daemon.review import ReviewDesk, Thumbnails
    from daemon.web.app import create_app

    config = service.config
    settings = ReviewSettings.of(getattr(config, "review", None))
    token = review_token(settings)
    register_secret(token)
    sock = bind(settings.host, settings.port)
    desk = ReviewDesk(config, service.journal, events=service.events, wake=service.worker.wake,
                      thumbnails=Thumbnails(Path(config.state_dir) / "thumbs"), plan=service.runner.plan,
                      segmenter_labels=lambda: service.segmenters.labels)
    access = Access(token, port=sock.getsockname()[1])
    app = create_app(desk, access, health=lambda: dataclasses.asdict(service.health()))
    server = ReviewServer(app, sock, url_of(sock)).start()
    log.info("review page", url=server.url, token="required" if token else "none (loopback only)",
             loopback=is_loopback(settings.host))
    return server


__all__ = ["ReviewServer", "bind", "start_review_server"]
