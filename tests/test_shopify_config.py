"""The publish params reject what would only fail later, naming the problem."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from integrations.shopify.config import PublishParams, ShopifyConfig


def test_defaults_are_off_and_valid():
    assert ShopifyConfig().enabled is False
    assert PublishParams().replace == "append"


@pytest.mark.parametrize("changes, message", [
    ({"title_serial_pattern": r"(?P<title>.+)"}, "serial"),
    ({"title_serial_pattern": r"(?P<title"}, "regular expression"),
    ({"alt": "{title"}, "template"),
    ({"alt": "{0} {title}"}, "not a field name"),
    ({"replace": "replace-some"}, "replace"),
])
def test_bad_publish_params_name_the_problem(changes, message):
    with pytest.raises(ValidationError, match=message):
        PublishParams(**changes)


def test_enabled_needs_a_shop_or_an_admin_url():
    with pytest.raises(ValidationError, match="shop"):
        ShopifyConfig(enabled=True)
    assert ShopifyConfig(enabled=True, admin_url="http://127.0.0.1:1").enabled


@pytest.mark.parametrize("given", ["my-store", "My-Store", "my-store.myshopify.com", " my-store.myshopify.com ",
                                   "https://my-store.myshopify.com", "https://my-store.myshopify.com/admin/"])
def test_the_shop_is_normalised_to_its_myshopify_domain(given):
    assert ShopifyConfig(shop=given).shop == "my-store.myshopify.com"


@pytest.mark.parametrize("shop, message", [
    ("shop.example.com", "myshopify.com"),
    ("my store", "store name"),
    ("https://", "store name"),
])
def test_a_shop_that_is_not_a_store_name_is_refused(shop, message):
    with pytest.raises(ValidationError, match=message):
        ShopifyConfig(shop=shop)


@pytest.mark.parametrize("version", ["2026-1", "2026-13", "26-01", "latest", ""])
def test_the_api_version_must_be_yyyy_mm(version):
    with pytest.raises(ValidationError, match="YYYY-MM"):
        ShopifyConfig(api_version=version)


def test_an_admin_url_must_be_http():
    with pytest.raises(ValidationError, match="http"):
        ShopifyConfig(admin_url="127.0.0.1:9")
