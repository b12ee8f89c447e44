"""Where the token comes from, its refresh, and that it never shows up in a
log line, an error message or anything the fake sends back."""

from __future__ import annotations

import io
import json
import threading

import httpx

import pytest
import structlog
from structlog.testing import capture_logs

from daemon import logging as booth_logging
from integrations.shopify import queries as Q
from integrations.shopify.auth import ClientCredentials, StaticToken, token_source
from integrations.shopify.client import AdminClient
from integrations.shopify.errors import AuthError, PublishError
from integrations.shopify.publish import Publisher
from tests.fake_shopify import FakeShopify
from tests.fake_shopify.testing import TOKEN, MemoryStore, request_for, shop_config, tiny_image

SECRET = "shpss_fake_client_secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def source(fake_or_url, environ, **changes):
    url = getattr(fake_or_url, "url", fake_or_url)
    seen: list[str] = []
    clock = Clock()
    return token_source(shop_config(url, **changes), http=httpx.Client(), on_secret=seen.append,
                        environ=environ, clock=clock), seen, clock


def test_token_from_the_environment_is_registered_as_a_secret():
    tokens, seen, _ = source("http://127.0.0.1:9", {"SHOPIFY_ACCESS_TOKEN": TOKEN})
    assert isinstance(tokens, StaticToken) and tokens.token() == TOKEN and seen == [TOKEN]


def test_token_from_a_systemd_credential(tmp_path):
    (tmp_path / "shopify-token").write_text(TOKEN + "\n")
    tokens, seen, _ = source("http://127.0.0.1:9", {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert tokens.token() == TOKEN and seen == [TOKEN + "\n"]  # registered as read; every form is redacted


def test_no_source_is_a_permanent_error_naming_the_options():
    with pytest.raises(AuthError, match="SHOPIFY_ACCESS_TOKEN.*shopify-token.*client_id") as caught:
        source("http://127.0.0.1:9", {})
    assert caught.value.permanent


def test_client_credentials_grant_and_refresh_before_expiry(tmp_path):
    (tmp_path / "shopify-client-secret").write_text(SECRET)
    with FakeShopify(token_lifetime=3600) as fake:
        tokens, seen, clock = source(fake, {"CREDENTIALS_DIRECTORY": str(tmp_path)}, client_id="booth-app",
                                     token_refresh_margin=300)
        assert isinstance(tokens, ClientCredentials)
        first = tokens.token()
        assert first in fake.tokens and seen == [SECRET, first]
        clock.now += 3000  # still 600 s to go: kept
        assert tokens.token() == first and fake.stats.grants == 1
        clock.now += 400   # inside the margin: a new one before the old expires
        second = tokens.token()
        assert second != first and fake.stats.grants == 2 and seen[-1] == second


def test_a_rejected_token_is_fetched_again_then_used():
    with FakeShopify() as fake:
        tokens, _, clock = source(fake, {"SHOPIFY_CLIENT_SECRET": SECRET}, client_id="booth-app")
        client = AdminClient(shop_config(fake.url), tokens, sleep=lambda s: None)
        client.execute(Q.CHECK)
        fake.tokens.clear()  # revoked on the shop's side an hour later
        fake.tokens.add("shpat_unrelated_000000")
        clock.now += 3600
        client.execute(Q.CHECK)
        assert fake.stats.grants == 2


def test_workers_rejected_with_the_same_token_share_one_new_grant():
    """A and B hold the same token when Shopify revokes it; A refreshes first.
    B's 401 then names a token that is already gone: B just uses the new one."""
    with FakeShopify() as fake:
        tokens, _, clock = source(fake, {"SHOPIFY_CLIENT_SECRET": SECRET}, client_id="booth-app")
        config = shop_config(fake.url)
        a = AdminClient(config, tokens, sleep=lambda s: None)
        a.execute(Q.CHECK)
        fake.tokens.clear()  # revoked on the shop's side an hour later
        clock.now += 3600
        b_sending, a_done = threading.Event(), threading.Event()

        def hold(request):  # B's request, token header already set, waits until A has refreshed
            if not b_sending.is_set():
                b_sending.set()
                a_done.wait(5)

        b = AdminClient(config, tokens, http=httpx.Client(event_hooks={"request": [hold]}), sleep=lambda s: None)
        answers, errors = [], []
        worker = threading.Thread(target=lambda: _capture(lambda: b.execute(Q.CHECK), answers, errors))
        worker.start()
        assert b_sending.wait(5)
        a.execute(Q.CHECK)  # 401, refresh, a new grant, asked again
        a_done.set()
        worker.join(10)
        assert errors == [] and answers and answers[0]["shop"]["name"]
        assert fake.stats.grants == 2  # one new token for both


def _capture(fn, answers, errors):
    try:
        answers.append(fn())
    except Exception as exc:  # noqa: BLE001 - the assertion reports it
        errors.append(exc)


def test_a_freshly_granted_token_that_is_rejected_is_permanent():
    with FakeShopify() as fake:
        tokens, _, _ = source(fake, {"SHOPIFY_CLIENT_SECRET": SECRET}, client_id="booth-app")
        client = AdminClient(shop_config(fake.url), tokens, sleep=lambda s: None)
        fake.grant = lambda form: (200, {"access_token": "shpat_never_accepted_0001", "expires_in": 86399})
        with pytest.raises(AuthError, match="401"):
            client.execute(Q.CHECK)


def test_wrong_client_credentials_are_permanent_and_do_not_echo_the_secret():
    with FakeShopify() as fake:
        tokens, _, _ = source(fake, {"SHOPIFY_CLIENT_SECRET": "shpss_wrong_secret_value"}, client_id="booth-app")
        with pytest.raises(AuthError) as caught:
            tokens.token()
        assert "shpss_wrong_secret_value" not in str(caught.value)


def _publish_with_faults(fake, tmp_path):
    """A run touching every path that could leak: grants, 401s, retries, errors."""
    fake.store.add_product("Camera", skus=["CAM-1"])
    path, sha = tiny_image(tmp_path, "a.jpg")
    publisher = Publisher(shop_config(fake.url, client_id="booth-app", timeout=0.3),
                          environ={"SHOPIFY_CLIENT_SECRET": SECRET}, on_secret=booth_logging.register_secret)
    for kind in ("429", "502", "drop", "throttled"):
        fake.inject(kind)
    fake.faults.retry_after = "0.01"
    publisher.publish(request_for(path, sha, "CAM-1"), MemoryStore())
    fake.store.scopes.discard("write_files")
    path2, sha2 = tiny_image(tmp_path, "b.jpg", seed=2)
    with pytest.raises(PublishError) as caught:
        publisher.publish(request_for(path2, sha2, "CAM-1", view="back", index=1), MemoryStore())
    structlog.get_logger("test").error("publish failed", error=str(caught.value), exc_info=caught.value)
    return caught.value


def _leaks(text: str, fake) -> list[str]:
    secrets = {SECRET, *(t for t in fake.tokens if t.startswith("shpat_granted"))}
    return [s for s in secrets if s in text]


def test_no_secret_in_captured_log_events_or_error_messages(tmp_path):
    with FakeShopify() as fake, capture_logs() as events:
        error = _publish_with_faults(fake, tmp_path)
    assert fake.stats.grants == 1 and "write_files" in str(error)
    assert events and not _leaks(repr(events) + str(error), fake)
    graphql_bodies = [b for b in fake.stats.bodies if "access_token" not in b]  # only the grant carries it
    assert not _leaks("".join(graphql_bodies), fake)


def test_no_secret_in_a_real_json_log_even_when_one_is_logged_on_purpose(tmp_path):
    buffer = io.StringIO()
    booth_logging.configure(level="debug", fmt="json", stream=buffer)
    try:
        with FakeShopify() as fake:
            _publish_with_faults(fake, tmp_path)
            granted = next(t for t in fake.tokens if t.startswith("shpat_granted"))
            # a careless line anywhere in the daemon: the processor must still catch it
            structlog.get_logger("test").warning("oops", token=granted, nested={"s": [SECRET]},
                                                 error=RuntimeError(f"bad {granted}"))
            lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
            assert any(line.get("event") == "shopify.published" for line in lines)
            assert any(line.get("event") == "oops" for line in lines)
            assert not _leaks(buffer.getvalue(), fake)
            assert booth_logging.REDACTED in buffer.getvalue()
    finally:
        structlog.reset_defaults()
