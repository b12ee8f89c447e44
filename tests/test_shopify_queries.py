"""Every document the client sends is valid against Shopify's 2026-01 Admin
schema and uses nothing deprecated; the fake refuses anything else."""

from __future__ import annotations

import httpx
import pytest

from integrations.shopify import queries
from integrations.shopify.client import DEFAULT_COST
from tests.fake_shopify import FakeShopify, admin_schema, problems
from tests.fake_shopify.cost import MAX_QUERY_COST, CostError, requested_cost
from tests.fake_shopify.schema import parse_document
from tests.fake_shopify.testing import TOKEN


def cost(document: str, variables: dict | None = None) -> int:
    return requested_cost(admin_schema(), parse_document(document), variables)


@pytest.mark.parametrize("name", sorted(queries.ALL))
def test_every_query_is_valid_and_not_deprecated(name):
    assert problems(queries.ALL[name]) == ()


@pytest.mark.parametrize("name", sorted(queries.ALL))
def test_every_document_stays_under_shopifys_cost_limit_with_the_first_booth_sends_it_with(name):
    requested = cost(queries.ALL[name], {"first": queries.FIRST.get(name, 1)})
    assert requested <= MAX_QUERY_COST
    assert requested <= DEFAULT_COST  # the client's guess before Shopify has priced it never falls short


def test_the_cost_is_shopifys_formula():
    assert cost("query { shop { id name } }") == 1  # an object 1, scalars 0
    nested = "query { products(first: 20) { nodes { id variants(first: 50) { nodes { id sku } } } } }"
    assert cost(nested) == 2 + 20 * (1 + 2 + 50 * 1) == 1062  # nested connections multiply
    edges = ("query { products(first: 20) { edges { cursor node { id "
             "variants(first: 50) { edges { node { id } } } } } } }")
    assert cost(edges) == 1062
    assert cost("query Q($n: Int!) { products(first: $n) { nodes { id } pageInfo { hasNextPage } } }", {"n": 7}) == 9
    # an interface: what the dearest type selects
    media = """query { product(id: "gid://shopify/Product/1") { media(first: 10) { nodes { id
      ... on MediaImage { image { url } originalSource { url } }  ... on Video { sources { url } } } } } }"""
    assert cost(media) == 1 + 2 + 10 * (1 + 2)
    assert cost(queries.FILE_CREATE) == 10  # a mutation
    with pytest.raises(CostError):
        cost("query { products { nodes { id } } }")


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


def test_the_fake_refuses_a_query_over_1000_points_as_shopify_does():
    with FakeShopify() as fake:
        too_dear = "query { products(first: 20) { nodes { id variants(first: 50) { nodes { id } } } } }"
        body = _post(fake, too_dear)
        assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED" and not body.get("data")
        assert fake.stats.over_cost == [("products", 1062)]
        assert _post(fake, queries.PRODUCT_MEDIA, {"id": "gid://shopify/Product/1"})["data"] == {"product": None}


def test_a_connection_returns_at_most_first_and_pages_on_by_cursor():
    with FakeShopify() as fake:
        product = fake.store.add_product("Camera")
        for n in range(7):
            fake.store.add_foreign_image(product, f"{n}.jpg")
        page = "query($id: ID!, $after: String) { product(id: $id) { media(first: 3, after: $after) { " \
               "nodes { id } pageInfo { hasNextPage endCursor } } } }"
        seen, after = [], None
        while True:
            media = _post(fake, page, {"id": product.id, "after": after})["data"]["product"]["media"]
            assert len(media["nodes"]) <= 3
            seen += [n["id"] for n in media["nodes"]]
            if not media["pageInfo"]["hasNextPage"]:
                break
            after = media["pageInfo"]["endCursor"]
        assert seen == product.media


def test_a_failed_file_can_only_be_deleted_and_a_variant_holds_one_media_item():
    with FakeShopify() as fake:
        product = fake.store.add_product("Lens", skus=["L-1"])
        failed = fake.store.add_foreign_image(product, "bad.jpg")
        failed.status = "FAILED"
        update = _post(fake, queries.FILE_UPDATE, {"files": [{"id": failed.id, "originalSource": "http://x/a.jpg"}]})
        assert [e["code"] for e in update["data"]["fileUpdate"]["userErrors"]] == ["INVALID_FAILED_MEDIA_STATE"]
        deleted = _post(fake, queries.FILE_DELETE, {"ids": [failed.id]})["data"]["fileDelete"]
        assert deleted == {"deletedFileIds": [failed.id], "userErrors": []} and product.media == []
        again = _post(fake, queries.FILE_DELETE, {"ids": [failed.id]})["data"]["fileDelete"]
        assert [e["code"] for e in again["userErrors"]] == ["FILE_DOES_NOT_EXIST"]
        one, two = (fake.store.add_foreign_image(product, f"{n}.jpg") for n in (1, 2))
        variant = product.variants[0].id
        codes = [[e["code"] for e in _post(fake, queries.VARIANT_APPEND_MEDIA, {
            "productId": product.id, "variantMedia": [{"variantId": variant, "mediaIds": [m.id]}]})
            ["data"]["productVariantAppendMedia"]["userErrors"]] for m in (one, two)]
        assert codes == [[], ["PRODUCT_VARIANT_ALREADY_HAS_MEDIA"]] and product.variants[0].media == [one.id]


def test_responses_carry_the_cost_and_throttle_status():
    with FakeShopify(bucket=(1000.0, 100.0)) as fake:
        body = _post(fake, queries.CHECK)
        status = body["extensions"]["cost"]["throttleStatus"]
        assert status["maximumAvailable"] == 1000.0 and status["restoreRate"] == 100.0
        assert body["data"]["currentAppInstallation"]["accessScopes"]


def test_every_document_with_a_first_variable_is_priced_with_the_first_it_is_sent_with():
    assert {name for name, document in queries.ALL.items() if "$first" in document} == set(queries.FIRST)
