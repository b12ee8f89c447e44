"""The model registry's fetch and verify against a real HTTP server on
127.0.0.1 that serves a model file and honours Range requests."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from integrations import models
from integrations.models import (
    DownloadFailed, HashMismatch, ModelEntry, NoDownload, NotInstalled, UnverifiedModel, auth_headers, fetch,
    resolver, verify,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB "model"
MD5 = "md5:" + hashlib.md5(PAYLOAD).hexdigest()
SHA256 = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()


class ModelServer:
    """Serves ``PAYLOAD`` at /model.onnx; can cut the first response short, and
    records every request's headers."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.cut_after: int | None = None  # bytes sent before the connection drops (once)
        self.ignore_range = False
        self.status: int | None = None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.requests.append(dict(self.headers))
                if server.status:
                    self.send_response(server.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if match and not server.ignore_range:
                    start = int(match.group(1))
                    if start >= len(PAYLOAD):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                else:
                    self.send_response(200)
                body = PAYLOAD[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    cut, server.cut_after = server.cut_after, None
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # the "network" drops mid-transfer
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/model.onnx"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    with ModelServer() as s:
        yield s


def model_entry(server: ModelServer, hash: str | None = MD5, name: str = "tiny") -> ModelEntry:
    return ModelEntry(name, server.url, hash, 1.0, "MIT", True)


def test_fetch_installs_a_verified_file(server, tmp_path):
    path = fetch(model_entry(server), tmp_path, progress=False)
    assert path == tmp_path / "tiny.onnx" and path.read_bytes() == PAYLOAD
    assert not (tmp_path / "tiny.onnx.part").exists()
    assert verify(model_entry(server), tmp_path).ok


def test_sha256_hashes_are_checked_too(server, tmp_path):
    assert fetch(model_entry(server, SHA256), tmp_path, progress=False).read_bytes() == PAYLOAD


def test_an_interrupted_download_resumes_where_it_stopped(server, tmp_path):
    server.cut_after = 300_000
    with pytest.raises(DownloadFailed, match=r"300000 bytes kept in .*tiny\.onnx\.part: run fetch again"):
        fetch(model_entry(server), tmp_path, progress=False, attempts=1)
    assert (tmp_path / "tiny.onnx.part").stat().st_size == 300_000
    assert not (tmp_path / "tiny.onnx").exists()

    path = fetch(model_entry(server), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1]["Range"] == "bytes=300000-"


def test_a_dropped_connection_is_retried_with_a_range_request(server, tmp_path):
    server.cut_after = 123_456
    path = fetch(model_entry(server), tmp_path, progress=False, attempts=2)
    assert path.read_bytes() == PAYLOAD
    assert "Range" not in server.requests[0] and server.requests[1]["Range"] == "bytes=123456-"


def test_a_complete_part_file_is_installed_without_downloading_again(server, tmp_path):
    (tmp_path / "tiny.onnx.part").write_bytes(PAYLOAD)
    assert fetch(model_entry(server), tmp_path, progress=False).read_bytes() == PAYLOAD
    assert server.requests[-1]["Range"] == f"bytes={len(PAYLOAD)}-"


def test_a_server_that_ignores_range_restarts_the_file(server, tmp_path):
    (tmp_path / "tiny.onnx.part").write_bytes(b"x" * 5000)
    server.ignore_range = True
    assert fetch(model_entry(server), tmp_path, progress=False).read_bytes() == PAYLOAD


def test_a_hash_mismatch_is_refused_and_never_installed(server, tmp_path):
    wrong = "md5:" + "0" * 32
    with pytest.raises(HashMismatch, match=r"HASH MISMATCH: expected md5:0{32}, got md5:[0-9a-f]{32}.*not installed"):
        fetch(model_entry(server, wrong), tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_installed_file_that_changed_is_refused_by_verify_and_the_resolver(server, tmp_path):
    registry = {"tiny": model_entry(server)}
    path = fetch(registry["tiny"], tmp_path, progress=False)
    resolve = resolver(tmp_path, registry)
    assert resolve("tiny") == path
    path.write_bytes(PAYLOAD[:-1] + b"\x00")  # corrupted on disk
    result = verify(registry["tiny"], tmp_path)
    assert result.status == "mismatch" and "will not be loaded" in result.message
    with pytest.raises(HashMismatch, match="HASH MISMATCH"):
        resolve("tiny")


def test_the_resolver_names_the_fetch_command_for_a_missing_model(server, tmp_path):
    with pytest.raises(NotInstalled, match="booth models fetch tiny"):
        resolver(tmp_path, {"tiny": model_entry(server)})("tiny")


def test_an_unverifiable_model_is_refused_unless_trusted(server, tmp_path):
    unknown = model_entry(server, hash=None)
    with pytest.raises(UnverifiedModel, match="--trust-unverified"):
        fetch(unknown, tmp_path, progress=False)
    assert server.requests == []  # refused before downloading anything
    path = fetch(unknown, tmp_path, progress=False, trust_unverified=True)
    assert verify(unknown, tmp_path).ok  # the recorded sha256 is checked from now on
    path.write_bytes(b"changed")
    assert verify(unknown, tmp_path).status == "mismatch"


def test_a_model_without_a_download_says_what_to_do(tmp_path):
    with pytest.raises(NoDownload, match="segmenter.path"):
        fetch(models.REGISTRY["birefnet-hr"], tmp_path)


def test_hf_token_is_sent_as_a_bearer_header_to_token_hosts(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_123")
    fetch(model_entry(server), tmp_path, progress=False, token_hosts=("127.0.0.1",))
    assert server.requests[0]["Authorization"] == "Bearer hf_secret_123"


def test_hf_token_goes_only_to_hugging_face(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abc")
    assert auth_headers("https://huggingface.co/briaai/RMBG-1.4/resolve/main/onnx/model.onnx", "hf_abc") == {
        "Authorization": "Bearer hf_abc"}
    assert auth_headers("https://github.com/x/y/releases/download/v0/m.onnx", "hf_abc") == {}
    assert auth_headers("https://evil-huggingface.co/m.onnx", "hf_abc") == {}


def test_a_login_wall_says_to_set_hf_token(server, tmp_path):
    server.status = 401
    with pytest.raises(DownloadFailed, match="set HF_TOKEN"):
        fetch(model_entry(server), tmp_path, progress=False)


def test_a_non_commercial_model_logs_a_licence_warning(server, tmp_path):
    nc = replace(model_entry(server), name="nc", licence="CC BY-NC 4.0", commercial_use=False)
    fetch(nc, tmp_path, progress=False)
    with capture_logs() as logs:
        resolver(tmp_path, {"nc": nc})("nc")
    assert any("NOT for commercial use" in e["event"] for e in logs if e["log_level"] == "warning")


def test_the_registry_is_consistent_with_the_contracts():
    from pipeline.segment.contracts import BUILTIN_CONTRACTS

    assert set(models.REGISTRY) == set(BUILTIN_CONTRACTS)
    assert models.REGISTRY[models.DEFAULT_MODEL].commercial_use is True
    for e in models.REGISTRY.values():
        if e.hash:
            models.parse_hash(e.hash)
    assert models.REGISTRY["rmbg-2.0"].commercial_use is False and models.REGISTRY["rmbg-1.4"].commercial_use is False


def test_cli_fetch_then_verify(server, tmp_path, monkeypatch, capsys):
    from daemon.cli import main

    monkeypatch.setitem(models.REGISTRY, "tiny", model_entry(server))
    folder = tmp_path / "models"
    assert main(["models", "fetch", "tiny", "--dir", str(folder)]) == 0
    assert main(["models", "verify", "--dir", str(folder)]) == 0
    assert "tiny: ok (md5:" in capsys.readouterr().out
    (folder / "tiny.onnx").write_bytes(b"tampered")
    assert main(["models", "verify", "tiny", "--dir", str(folder)]) == 1
    assert "HASH MISMATCH" in capsys.readouterr().err
    assert main(["models", "list", "--dir", str(folder)]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^tiny .* not verified", listing, re.M) and "execution: " in listing


def test_cli_fetch_refuses_a_mismatch_with_exit_code_1(server, tmp_path, monkeypatch, capsys):
    from daemon.cli import main

    monkeypatch.setitem(models.REGISTRY, "tiny", model_entry(server, "md5:" + "1" * 32))
    assert main(["models", "fetch", "tiny", "--dir", str(tmp_path)]) == 1
    assert "HASH MISMATCH" in capsys.readouterr().err and not (tmp_path / "tiny.onnx").exists()
