"""The client against the fake over real HTTP: pacing, throttling, retries,
ambiguous mutations, auth and scope errors."""

from __future__ import annotations

import threading

import pytest

from integrations.shopify import queries as Q
from integrations.shopify.auth import StaticToken
from integrations.shopify.client import (MAX_RETRY_AFTER, AdminClient, CostBucket, admin_endpoint,
                                         retry_after_seconds, shop_origin)
from integrations.shopify.config import ShopifyConfig
from integrations.shopify.errors import AmbiguousError, AuthError, GraphQLError, PermanentError, TransientError
from tests.fake_shopify import FakeShopify
from tests.fake_shopify.testing import TOKEN, shop_config


class Sleeps(list):
    """Records every sleep and really sleeps it (the fake's bucket runs on real time)."""

    def __call__(self, seconds: float) -> None:
        import time
        self.append(seconds)
        time.sleep(seconds)


def client_for(fake, token=TOKEN, **changes):
    sleeps = Sleeps()
    return AdminClient(shop_config(fake.url, **changes), StaticToken(token, "test"), sleep=sleeps), sleeps


@pytest.mark.parametrize("shop", ["my-store", "my-store.myshopify.com", "https://my-store.myshopify.com/"])
def test_the_admin_endpoint_is_the_shops_versioned_graphql_path(shop):
    config = ShopifyConfig(shop=shop, api_version="2025-10")
    assert admin_endpoint(config) == "https://my-store.myshopify.com/admin/api/2025-10/graphql.json"
    assert shop_origin(config) == "https://my-store.myshopify.com"


def test_admin_url_replaces_the_origin_and_keeps_a_version_path_it_has():
    assert admin_endpoint(ShopifyConfig(shop="x", admin_url="http://127.0.0.1:9/")) == \
        "http://127.0.0.1:9/admin/api/2026-01/graphql.json"
    assert admin_endpoint(ShopifyConfig(admin_url="http://127.0.0.1:9/admin/api/2025-01")) == \
        "http://127.0.0.1:9/admin/api/2025-01/graphql.json"
    assert shop_origin(ShopifyConfig(admin_url="http://127.0.0.1:9/proxy")) == "http://127.0.0.1:9"
    with pytest.raises(PermanentError, match="shopify.shop"):
        admin_endpoint(ShopifyConfig())


def test_every_request_has_a_timeout_and_a_slow_answer_to_a_query_is_asked_again():
    with FakeShopify() as fake:
        fake.faults.slow_seconds = 0.5
        fake.inject("slow", "productVariants")
        client, _ = client_for(fake, timeout=0.2)
        data = client.execute(Q.VARIANTS_BY_SEARCH, {"query": 'sku:"X"', "first": 5})
        assert data["productVariants"]["nodes"] == []
        assert fake.stats.by_operation["productVariants"] == 2


@pytest.mark.parametrize("fault", ["slow", "drop", "502"])
def test_a_mutation_without_a_clear_answer_is_ambiguous_and_not_resent(fault):
    with FakeShopify() as fake:
        fake.inject(fault, "stagedUploadsCreate")
        client, _ = client_for(fake, timeout=0.2)
        spec = {"resource": "IMAGE", "filename": "a.jpg", "mimeType": "image/jpeg", "httpMethod": "POST"}
        with pytest.raises(AmbiguousError):
            client.execute(Q.STAGED_UPLOADS_CREATE, {"input": [spec]})
        assert fake.stats.by_operation["stagedUploadsCreate"] == 1


def test_429_honours_retry_after():
    with FakeShopify() as fake:
        fake.faults.retry_after = "0.3"
        fake.inject("429", "shop")
        client, sleeps = client_for(fake)
        assert client.execute(Q.CHECK)["shop"]["name"]
        assert 0.3 in sleeps


def test_throttled_waits_what_the_bucket_needs():
    with FakeShopify(bucket=(100.0, 50.0)) as fake:
        fake.inject("throttled", "shop")
        client, sleeps = client_for(fake)
        client.execute(Q.CHECK)
        assert len(sleeps) == 1 and 0 < sleeps[0] <= 0.1  # the bucket is nearly full: a short wait


def test_5xx_and_dropped_connections_on_queries_are_retried_with_a_bound():
    with FakeShopify() as fake:
        fake.inject("502", "shop", times=2)
        fake.inject("drop", "shop")
        client, sleeps = client_for(fake, max_retries=3)
        retried = []
        client._on_retry = retried.append
        assert client.execute(Q.CHECK)["shop"]
        assert len(sleeps) == 3 and retried == ["shop"] * 3
        assert client.throttle() == (pytest.approx(client.bucket.available), 1000.0)
        fake.inject("502", "shop", times=10)
        with pytest.raises(TransientError, match="502"):
            client.execute(Q.CHECK)
        assert fake.stats.faults["502"] == 6  # 2, then the bound: 1 try + 3 retries


def test_pacing_keeps_requests_inside_the_bucket():
    with FakeShopify(bucket=(400.0, 2000.0)) as fake:
        client, sleeps = client_for(fake)
        threads = [threading.Thread(target=lambda: [client.execute(Q.PRODUCT_MEDIA, {"id": "gid://shopify/Product/1"})
                                                   for _ in range(6)]) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert fake.stats.over_limit == 0
        assert sleeps  # it had to wait: 18 requests of cost 153 from a bucket of 400
        assert fake.stats.min_available >= 0


def test_cost_bucket_leaves_the_reserve_and_accounts_for_requests_in_flight():
    bucket = CostBucket(reserve=0.1)
    bucket.settle(0, {"maximumAvailable": 100, "currentlyAvailable": 50, "restoreRate": 10}, now=0.0)
    assert bucket.take(30, now=0.0) == 0
    assert bucket.take(30, now=0.0) == pytest.approx((30 + 10 - 20) / 10)
    bucket.settle(30, {"maximumAvailable": 100, "currentlyAvailable": 20, "restoreRate": 10}, now=0.0)
    assert bucket.available == 20


def test_an_unknown_token_is_a_permanent_auth_error_without_the_token():
    with FakeShopify() as fake:
        client, _ = client_for(fake, token="shpat_wrong_token_123456")
        with pytest.raises(AuthError) as caught:
            client.execute(Q.CHECK)
        assert caught.value.permanent and "401" in str(caught.value)
        assert "shpat_wrong_token_123456" not in str(caught.value)


@pytest.mark.parametrize("missing, document, variables", [
    ("write_files", Q.FILE_CREATE, {"files": [{"originalSource": "http://x/a.jpg"}]}),
    ("write_products", Q.PRODUCT_REORDER_MEDIA, {"id": "gid://shopify/Product/1", "moves": []}),
    ("read_products", Q.VARIANTS_BY_SEARCH, {"query": "sku:1", "first": 1}),
])
def test_a_missing_scope_is_a_permanent_error_naming_the_scope(missing, document, variables):
    from tests.fake_shopify import ALL_SCOPES
    with FakeShopify(scopes=ALL_SCOPES - {missing}) as fake:
        client, _ = client_for(fake)
        with pytest.raises(AuthError) as caught:
            client.execute(document, variables)
        assert caught.value.scope == missing and missing in str(caught.value)


def test_retry_after_reads_seconds_and_http_dates_and_is_capped():
    import email.utils
    import time
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("0.25") == 0.25
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds(email.utils.formatdate(time.time() + 20, usegmt=True)) == pytest.approx(20, abs=2)
    assert retry_after_seconds(email.utils.formatdate(time.time() + 20)) == pytest.approx(20, abs=2)  # "-0000"
    assert retry_after_seconds("86400") == MAX_RETRY_AFTER == 60.0  # not a day inside one request
    assert retry_after_seconds(email.utils.formatdate(time.time() + 7200, usegmt=True)) == MAX_RETRY_AFTER
    assert retry_after_seconds("soon", default=1.5) == 1.5
    assert retry_after_seconds("nan", default=1.5) == 1.5
    assert retry_after_seconds(None, default=1.5) == 1.5


def test_a_429_with_a_long_retry_after_waits_at_most_the_cap():
    with FakeShopify() as fake:
        fake.faults.retry_after = "3600"
        fake.inject("429", "shop")
        sleeps: list[float] = []  # recorded, not slept: the real wait would be a minute
        client = AdminClient(shop_config(fake.url), StaticToken(TOKEN, "test"), sleep=sleeps.append)
        assert client.execute(Q.CHECK)["shop"]
        assert max(sleeps) == MAX_RETRY_AFTER


def test_an_internal_error_answering_a_mutation_is_ambiguous_and_not_resent():
    with FakeShopify() as fake:
        fake.inject("internal", "stagedUploadsCreate")
        client, _ = client_for(fake)
        spec = {"resource": "IMAGE", "filename": "a.jpg", "mimeType": "image/jpeg", "httpMethod": "POST"}
        with pytest.raises(AmbiguousError, match="internal"):
            client.execute(Q.STAGED_UPLOADS_CREATE, {"input": [spec]})
        assert fake.stats.by_operation["stagedUploadsCreate"] == 1
        assert len(fake.store.staged) == 1  # it did run: sending it again blindly could do it twice


def test_an_internal_error_answering_a_query_is_asked_again():
    with FakeShopify() as fake:
        fake.inject("internal", "shop")
        client, sleeps = client_for(fake)
        assert client.execute(Q.CHECK)["shop"]["name"]
        assert fake.stats.by_operation["shop"] == 2 and len(sleeps) == 1


def test_a_query_over_shopifys_cost_limit_is_a_permanent_error():
    too_dear = """query Dear($id: ID!) { product(id: $id) {
      variants(first: 100) { nodes { id media(first: 50) { nodes { id } } } } } }"""
    with FakeShopify() as fake:
        client, _ = client_for(fake)
        with pytest.raises(GraphQLError, match="MAX_COST_EXCEEDED") as caught:
            client.execute(too_dear, {"id": "gid://shopify/Product/1"})
        assert caught.value.permanent and fake.stats.over_cost == [("product", 1 + 2 + 100 * 53)]
        assert fake.stats.by_operation["product"] == 1
