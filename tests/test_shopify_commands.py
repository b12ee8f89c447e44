"""booth shopify check and booth link, run through the real command line."""

from __future__ import annotations

import socket
import threading

import pytest

from daemon.cli import main
from daemon.journal import Journal
from integrations.shopify.progress import Progress
from tests.fake_shopify import ALL_SCOPES, FakeShopify
from tests.fake_shopify.testing import TOKEN


def write_config(tmp_path, url=None, enabled=True):
    path = tmp_path / "config.yaml"
    shop = f"  admin_url: {url}\n" if url else ""
    path.write_text(f"state_dir: {tmp_path / 'state'}\n"
                    f"shopify:\n  enabled: {str(enabled).lower()}\n{shop}  timeout: 2\n")
    return str(path)


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", TOKEN)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def test_check_reports_credentials_version_scopes_and_a_lookup(tmp_path, capsys, token):
    with FakeShopify() as fake:
        fake.store.add_product("Sony A7 IV", skus=["CAM-331"])
        code = main(["shopify", "check", "--config", write_config(tmp_path, fake.url), "--sku", "CAM-331"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "credentials: ok" in out and "api version: 2026-01" in out and "scopes:      ok" in out
    assert "Sony A7 IV" in out and TOKEN not in out


def test_check_names_missing_scopes(tmp_path, capsys, token):
    with FakeShopify(scopes=ALL_SCOPES - {"write_files"}) as fake:
        code = main(["shopify", "check", "--config", write_config(tmp_path, fake.url)])
    assert code == 1 and "missing write_files" in capsys.readouterr().out


def test_check_flags_a_version_shopify_does_not_serve(tmp_path, capsys, token):
    with FakeShopify() as fake:
        fake.api_version = "2025-01"  # what Shopify answers with for an unsupported version
        config = write_config(tmp_path, f"{fake.url}/admin/api/2025-01")
        code = main(["shopify", "check", "--config", config])
    assert code == 1 and "2026-01 is not supported" in capsys.readouterr().out


def test_check_with_a_bad_token_fails_without_printing_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_not_the_right_one_99")
    with FakeShopify() as fake:
        code = main(["shopify", "check", "--config", write_config(tmp_path, fake.url)])
    captured = capsys.readouterr()
    assert code == 1 and "401" in captured.err
    assert "shpat_not_the_right_one_99" not in captured.out + captured.err


@pytest.mark.parametrize("enabled, url", [(False, "http://127.0.0.1:9"), (True, None)])
def test_check_with_publishing_off_says_which_keys_turn_it_on(tmp_path, capsys, token, enabled, url):
    if url is None:  # enabled without a shop does not load; a shop-less config that is off does
        enabled = False
    code = main(["shopify", "check", "--config", write_config(tmp_path, url, enabled=enabled)])
    out = capsys.readouterr().out
    assert code == 2
    assert "publishing to Shopify is off" in out
    assert "enabled: true" in out and "shop: my-store" in out
    assert "/etc/booth/credentials/shopify-token" in out and "LoadCredential=shopify-token:" in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_against_a_shop_that_cannot_be_reached_fails_at_once(tmp_path, capsys, token):
    code = main(["shopify", "check", "--config", write_config(tmp_path, f"http://127.0.0.1:{_closed_port()}")])
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach Shopify" in err and "ConnectError" in err


class _Hangup:
    """A server that takes every connection and closes it without a word; counts them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


def test_check_does_not_retry_a_shop_that_does_not_answer(tmp_path, capsys, token):
    server = _Hangup()
    try:
        code = main(["shopify", "check", "--config", write_config(tmp_path, f"http://127.0.0.1:{server.port}")])
    finally:
        server.sock.close()
    assert code == 1 and "no answer from Shopify" in capsys.readouterr().err
    assert server.connections == 1


def test_the_commands_connect_with_a_short_timeout(tmp_path, token):
    from daemon.cli import load_or_report
    from daemon.commands.shopify import QUICK_CONNECT, _client

    client = _client(load_or_report(write_config(tmp_path, "http://127.0.0.1:9")))
    assert client._timeout.connect <= QUICK_CONNECT and client.config.max_retries == 0
    client.close()


# --------------------------------------------------------------------------- link

def held_job(tmp_path, *, state="needs_review", review_kind="product", output=True, remote=None):
    """A job in the journal as the daemon leaves one, with its finished image on disk."""
    journal = Journal(tmp_path / "state" / "journal.sqlite3")
    image = tmp_path / "outbox" / "a.jpg"
    if output:
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(b"JPEG")
    job, _ = journal.add("ab" * 32, tmp_path / "a.jpg", product_key="sony a7iv #331", view="front")
    changes = {"output": str(image)} if output is True else {"output": output} if output else {}
    if review_kind is not None:
        changes["review_kind"] = review_kind
    journal.set_state(job.id, state, error="no product matched", **changes)
    if remote is not None:
        journal.set_remote(job.id, remote)
    journal.close()
    return job.id


def read_back(tmp_path, job_id):
    journal = Journal(tmp_path / "state" / "journal.sqlite3")
    try:
        return journal.get(job_id), Progress.from_dict(journal.remote(job_id))
    finally:
        journal.close()


def test_link_sets_the_product_resets_later_steps_keeps_the_file_and_requeues(tmp_path, capsys, token):
    legacy = {"file_pending": "x-00-front-abababab.jpg", "file_id": "gid://shopify/MediaImage/1",
              "attached": "gid://shopify/MediaImage/1", "replaced": "-", "reordered": "1",
              "candidates": '[{"id": "gid://shopify/Product/5", "title": "Other"}]'}
    job_id = held_job(tmp_path, remote=legacy)
    with FakeShopify() as fake:
        product = fake.store.add_product("Sony A7 IV #331")
        config = write_config(tmp_path, fake.url)
        number = product.id.rsplit("/", 1)[-1]
        assert main(["link", str(job_id), number, "--config", config]) == 0
    job, progress = read_back(tmp_path, job_id)
    assert progress.product_id == product.id and progress.product_title == "Sony A7 IV #331"
    assert not progress.attached and progress.detached is None and not progress.reordered
    assert progress.file_id == "gid://shopify/MediaImage/1" and progress.candidates == ()  # the upload is reused
    assert job.state == "waiting" and job.stage == "publish"
    assert "queued for publishing" in capsys.readouterr().out


def test_link_refuses_a_product_shopify_does_not_have(tmp_path, capsys, token):
    job_id = held_job(tmp_path)
    with FakeShopify() as fake:
        assert main(["link", str(job_id), "gid://shopify/Product/999999", "--config",
                     write_config(tmp_path, fake.url)]) == 2
    assert "no product gid://shopify/Product/999999" in capsys.readouterr().err
    assert read_back(tmp_path, job_id)[0].state == "needs_review"


def test_a_job_held_before_review_kinds_counts_as_waiting_for_its_product(tmp_path, capsys, token):
    job_id = held_job(tmp_path, review_kind=None)
    config = write_config(tmp_path, "http://127.0.0.1:9")
    assert main(["link", str(job_id), "123", "--no-verify", "--config", config]) == 0
    assert read_back(tmp_path, job_id)[1].product_id == "gid://shopify/Product/123"


@pytest.mark.parametrize("job, message", [
    (dict(state="done"), "is done, not needs_review"),
    (dict(state="quarantined"), "is quarantined, not needs_review"),
    (dict(review_kind="cutout"), "cut-out"),
    (dict(output=None), "no finished image on disk (none recorded)"),
    (dict(output=""), "no finished image on disk"),  # '' would be read as the current folder
    (dict(output="/nowhere/a.jpg"), "no finished image on disk (/nowhere/a.jpg)"),
])
def test_link_refuses_a_job_that_does_not_wait_for_its_product_in_one_line(tmp_path, capsys, token, job, message):
    job_id = held_job(tmp_path, **job)
    before = read_back(tmp_path, job_id)
    assert main(["link", str(job_id), "123", "--no-verify", "--config",
                 write_config(tmp_path, "http://127.0.0.1:9")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert read_back(tmp_path, job_id) == before  # nothing changed


def test_link_refuses_every_job_while_publishing_is_off(tmp_path, capsys, token):
    job_id = held_job(tmp_path)
    assert main(["link", str(job_id), "123", "--config", write_config(tmp_path, "http://127.0.0.1:9",
                                                                       enabled=False)]) == 2
    assert "publishing to Shopify is off" in capsys.readouterr().err
    assert read_back(tmp_path, job_id)[0].state == "needs_review"


def test_link_refuses_a_bad_product_id_and_an_unknown_job(tmp_path, capsys, token):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    assert main(["link", "1", "not-a-product", "--config", config]) == 2
    assert main(["link", "42", "123", "--config", config]) == 2
    assert "no job 42" in capsys.readouterr().err
