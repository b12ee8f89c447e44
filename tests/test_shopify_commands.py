"""booth shopify check and booth link, run through the real command line."""

from __future__ import annotations

import pytest

from daemon.cli import main
from daemon.journal import Journal
from tests.fake_shopify import ALL_SCOPES, FakeShopify
from tests.fake_shopify.testing import TOKEN


def write_config(tmp_path, url, enabled=True):
    path = tmp_path / "config.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n"
                    f"shopify:\n  enabled: {str(enabled).lower()}\n  admin_url: {url}\n  timeout: 2\n")
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


def test_link_sets_the_product_resets_later_steps_and_requeues(tmp_path, capsys, token):
    with FakeShopify() as fake:
        product = fake.store.add_product("Sony A7 IV #331")
        config = write_config(tmp_path, fake.url)
        journal = Journal(tmp_path / "state" / "journal.sqlite3")
        job, _ = journal.add("ab" * 32, tmp_path / "a.jpg", product_key="sony a7iv #331", view="front")
        journal.set_state(job.id, "needs_review", error="no product matched")
        journal.remote_ids(job.id).put("attached", "gid://shopify/MediaImage/1")
        journal.close()
        number = product.id.rsplit("/", 1)[-1]
        assert main(["link", str(job.id), number, "--config", config]) == 0
        assert main(["link", str(job.id), "gid://shopify/Product/999999", "--config", config]) == 2
    journal = Journal(tmp_path / "state" / "journal.sqlite3")
    ids = journal.remote_ids(job.id)
    assert ids.get("product_id") == product.id and not ids.get("attached")
    assert ids.get("product_title") == "Sony A7 IV #331"
    assert journal.get(job.id).state == "waiting"
    journal.close()
    assert "queued for publishing" in capsys.readouterr().out


def test_link_refuses_a_bad_product_id_and_an_unknown_job(tmp_path, capsys, token):
    config = write_config(tmp_path, "http://127.0.0.1:9", enabled=False)
    assert main(["link", "1", "not-a-product", "--config", config]) == 2
    assert main(["link", "42", "123", "--config", config]) == 2
    assert "no job 42" in capsys.readouterr().err
