"""Secrets never leave the process: a server that echoes every request's
headers and body back in its errors (as some proxies and error pages do)
must not get a token or a client secret into an exception message, a log
line or the output of ``booth shopify check``, in any form."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from daemon import logging as booth_logging
from integrations import secrets
from integrations.shopify import queries as Q
from integrations.shopify.auth import token_source
from integrations.shopify.client import AdminClient
from integrations.shopify.errors import PublishError
from integrations.shopify.publish import _problems, _refused
from tests.fake_shopify.testing import shop_config

ROOT = Path(__file__).resolve().parents[1]
# Given with blanks around them, as a hand-edited environment file has them; sent stripped.
SHAPED_TOKEN = "  shpat_0123456789abcdef0123456789abcdef \n"
ODD_TOKEN = ' tok"en+/=&\\0123456789abc '          # not token-shaped: only the registry can catch it
CLIENT_SECRET = ' cl!ent"secret+/=&\\0123456789 '


def forms(value: str) -> set[str]:
    """Every way ``value`` could come back: as given, stripped, URL-encoded, JSON-escaped."""
    out = set()
    for v in (value, value.strip()):
        out |= {v, quote_plus(v), quote(v, safe=""), quote(v, safe="").lower(), json.dumps(v)[1:-1]}
    return out


def leaks(text: str, *values: str) -> list[str]:
    return sorted(f for v in values for f in forms(v) if f in text)


class Echo:
    """An HTTP server on 127.0.0.1 whose every answer is ``mode``, each one
    carrying the request's headers and body back."""

    def __init__(self) -> None:
        self.mode = "400-json"
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                text = "".join(f"{k}: {v}\n" for k, v in self.headers.items()) + raw.decode("latin-1")
                status, body, kind = echo.answer(text)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def answer(self, text: str):
        mode = self.mode
        plain, js = "text/plain", "application/json"
        if mode.endswith("-text"):
            return int(mode[:3]), f"refused: {text}", plain
        if mode.endswith("-json"):
            return int(mode[:3]), {"errors": text}, js
        codes = {"graphql": "BAD_REQUEST", "denied": "ACCESS_DENIED", "internal": "INTERNAL_SERVER_ERROR"}
        if mode in codes:
            return 200, {"errors": [{"message": text, "extensions": {"code": codes[mode]}}]}, js
        if mode == "grant":
            return 400, {"error": "invalid_client", "error_description": text}, js
        raise AssertionError(mode)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo():
    server = Echo()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def empty_registry():
    secrets.REGISTRY.clear()  # only the token sources may register what these tests check for
    yield


def client_for(echo, environ, **changes) -> AdminClient:
    config = shop_config(echo.url, max_retries=0, **changes)
    http = httpx.Client()
    return AdminClient(config, token_source(config, http=http, on_secret=lambda s: None, environ=environ),
                       http=http, sleep=lambda s: None)


def failure(fn) -> PublishError:
    with pytest.raises(PublishError) as caught:
        fn()
    return caught.value


def everything_said(error: BaseException, events: list[dict], rendered: str = "") -> str:
    return "\n".join([str(error), repr(error), repr(error.args), repr(events), rendered])


MODES = ["400-json", "400-text", "401-text", "403-json", "404-text", "500-text", "graphql", "denied", "internal"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("token", [SHAPED_TOKEN, ODD_TOKEN], ids=["shaped", "odd"])
def test_no_form_of_the_token_in_an_error_from_an_echoing_answer(echo, mode, token):
    echo.mode = mode
    client = client_for(echo, {"SHOPIFY_ACCESS_TOKEN": token})
    with capture_logs() as events:
        error = failure(lambda: client.execute(Q.FILE_CREATE, {"files": [{"originalSource": "http://x/a.jpg"}]}))
        structlog.get_logger("test").error("publish failed", error=str(error))
    assert not leaks(everything_said(error, events), token)
    if mode in ("400-json", "400-text", "graphql", "denied"):
        assert secrets.REDACTED in str(error)  # the echo did reach the message: only redacted


@pytest.mark.parametrize("mode", ["400-text", "403-json"])
def test_no_token_in_a_refused_staged_upload(echo, mode):
    echo.mode = mode
    client = client_for(echo, {"SHOPIFY_ACCESS_TOKEN": ODD_TOKEN})
    with capture_logs() as events:
        error = failure(lambda: client.upload(f"{echo.url}/staged/x", [{"name": "key", "value": "tmp/x"}],
                                              "a.jpg", b"JPEG", "image/jpeg"))
    assert "staged upload of a.jpg refused" in str(error)
    assert not leaks(everything_said(error, events), ODD_TOKEN)


@pytest.mark.parametrize("mode", ["grant", "400-text", "401-json"])
def test_no_client_secret_in_a_refused_token_grant(echo, mode):
    echo.mode = mode
    environ = {"SHOPIFY_CLIENT_SECRET": CLIENT_SECRET}
    tokens = token_source(shop_config(echo.url, client_id="booth-app"), http=httpx.Client(),
                          on_secret=lambda s: None, environ=environ)
    with capture_logs() as events:
        error = failure(tokens.token)
    assert "refused the client credentials" in str(error)
    assert not leaks(everything_said(error, events), CLIENT_SECRET)


def test_secrets_from_credential_files_are_registered_as_read(echo, tmp_path):
    (tmp_path / "shopify-token").write_text(ODD_TOKEN + "\n")
    echo.mode = "400-json"
    client = client_for(echo, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    error = failure(lambda: client.execute(Q.CHECK))
    assert not leaks(str(error), ODD_TOKEN + "\n")


def test_a_real_json_log_of_every_failure_carries_no_secret(echo):
    buffer = io.StringIO()
    booth_logging.configure(level="debug", fmt="json", stream=buffer)
    try:
        client = client_for(echo, {"SHOPIFY_ACCESS_TOKEN": ODD_TOKEN})
        for mode in MODES:
            echo.mode = mode
            error = failure(lambda: client.execute(Q.CHECK))
            structlog.get_logger("test").error("check failed", error=error, exc_info=error)
        structlog.get_logger("test").warning("careless", token=ODD_TOKEN.strip(), form=quote_plus(ODD_TOKEN.strip()))
    finally:
        structlog.reset_defaults()
    lines = buffer.getvalue().splitlines()
    assert len([json.loads(line) for line in lines]) >= len(MODES)
    assert not leaks(buffer.getvalue(), ODD_TOKEN)


def test_user_errors_and_media_errors_are_scrubbed_where_they_enter():
    secrets.register(ODD_TOKEN)
    error = _refused([{"field": ["files"], "message": f"bad header {ODD_TOKEN.strip()}", "code": "INVALID"}], "x")
    problem = _problems({"fileErrors": [{"code": "X", "message": "shpat_" + "a1" * 16, "details": None}]})
    assert not leaks(str(error) + problem, ODD_TOKEN) and "shpat_" not in problem


def test_scrub_redacts_every_registered_form_and_anything_token_shaped():
    secrets.register(CLIENT_SECRET)
    secrets.register("short")  # under 6 characters: would redact ordinary words
    text = " | ".join(forms(CLIENT_SECRET)) + " shpca_ABCDEFGHIJKLMNOP1234 short"
    scrubbed = secrets.scrub(text)
    assert not leaks(scrubbed, CLIENT_SECRET) and "shpca_" not in scrubbed and scrubbed.endswith(" short")


def _booth(*args: str, environ: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPIFY_") and k != "CREDENTIALS_DIRECTORY"}
    return subprocess.run([sys.executable, "-m", "daemon.cli", *args], cwd=ROOT, env={**env, **environ},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("mode", ["400-json", "graphql", "denied"])
def test_booth_shopify_check_never_prints_the_token(echo, tmp_path, mode):
    echo.mode = mode
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nshopify:\n  enabled: true\n  admin_url: {echo.url}\n")
    done = _booth("shopify", "check", "--config", str(config), environ={"SHOPIFY_ACCESS_TOKEN": ODD_TOKEN})
    assert done.returncode == 1 and "shopify:" in done.stderr, done.stderr
    assert not leaks(done.stdout + done.stderr, ODD_TOKEN)


def test_booth_shopify_check_never_prints_the_client_secret(echo, tmp_path):
    echo.mode = "grant"
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nshopify:\n  enabled: true\n  admin_url: {echo.url}\n"
                      "  client_id: booth-app\n")
    done = _booth("shopify", "check", "--config", str(config), environ={"SHOPIFY_CLIENT_SECRET": CLIENT_SECRET})
    assert done.returncode == 1 and "client credentials" in done.stderr, done.stderr
    assert not leaks(done.stdout + done.stderr, CLIENT_SECRET)
