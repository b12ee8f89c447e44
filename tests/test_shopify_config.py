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
    ({"alt": "{0} {title}"}, "plain names"),
    ({"replace": "replace-some"}, "replace"),
])
def test_bad_publish_params_name_the_problem(changes, message):
    with pytest.raises(ValidationError, match=message):
        PublishParams(**changes)


def test_enabled_needs_a_shop_or_an_admin_url():
    with pytest.raises(ValidationError, match="shop"):
        ShopifyConfig(enabled=True)
    assert ShopifyConfig(enabled=True, admin_url="http://127.0.0.1:1").enabled
