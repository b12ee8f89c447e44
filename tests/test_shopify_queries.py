"""Every document the client sends is valid against Shopify's 2026-01 Admin
schema and uses nothing deprecated; the fake refuses anything else."""

from __future__ import annotations

import httpx
import pytest

from integrations.shopify import queries
from tests.fake_shopify import FakeShopify, problems
from tests.fake_shopify.testing import TOKEN


@pytest.mark.parametrize("name", sorted(queries.ALL))
def test_every_query_is_valid_and_not_deprecated(name):
    assert problems(queries.ALL[name]) == ()


@pytest.mark.parametrize("document", [
    'mutation { productCreateMedia(productId: "gid://shopify/Product/1", media: []) { media { id } } }',
    'query { product(id: "gid://shopify/Product/1") { images(first: 1) { nodes { url } } } }',
    'query { productVariant(id: "gid://shopify/ProductVariant/1") { image { url } } }',
    'mutation { stagedUploadsCreate(input: [{resource: PRODUCT_IMAGE, filename: "a.jpg", mimeType: "image/jpeg"}])'
    ' { stagedTargets { url } } }',
])
def test_deprecated_fields_and_values_are_rejected(document):
    assert any("deprecated" in p for p in problems(document))


def _post(fake, document, variables=None):
    return httpx.post(f"{fake.url}{fake.graphql_path}", json={"query": document, "variables": variables or {}},
                      headers={"X-Shopify-Access-Token": TOKEN}, timeout=5).json()


def test_the_fake_answers_invalid_documents_with_errors_and_records_them():
    with FakeShopify() as fake:
        body = _post(fake, "query { product(id: 1) { nosuchfield } }")
        assert body["errors"] and not body.get("data")
        assert fake.stats.invalid


def test_the_fake_rejects_the_deprecated_resource_passed_as_a_variable():
    with FakeShopify() as fake:
        spec = {"resource": "PRODUCT_IMAGE", "filename": "a.jpg", "mimeType": "image/jpeg"}
        body = _post(fake, queries.STAGED_UPLOADS_CREATE, {"input": [spec]})
        assert "deprecated" in body["errors"][0]["message"]


def test_responses_carry_the_cost_and_throttle_status():
    with FakeShopify(bucket=(1000.0, 100.0)) as fake:
        body = _post(fake, queries.CHECK)
        status = body["extensions"]["cost"]["throttleStatus"]
        assert status["maximumAvailable"] == 1000.0 and status["restoreRate"] == 100.0
        assert body["data"]["currentAppInstallation"]["accessScopes"]
