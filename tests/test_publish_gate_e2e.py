"""The review gate and product sets against the fake shop, under its fault
injection (throttling, 429s, 502s, dropped connections, slow answers, internal
errors, failed uploads): a real ``booth run``, real files, end states on the shop."""

from __future__ import annotations

import re

import pytest

from tests.daemon_helpers import Daemon, wait_for, write
from tests.test_product_sets import SIZES, view_photo

FAULTS = dict(rate=0.15, upload_rate=0.15, retry_after="0.05", slow_seconds=0.2, seed=11)
SHOP = {"enabled": True, "timeout": 2.0, "retry_initial": 0.02, "retry_max": 0.1, "poll_interval": 0.02,
        "max_retry_seconds": 20.0}


def shop_daemon(tmp_path, fake, **category) -> Daemon:
    return Daemon(tmp_path, settle=0.2, shopify={**SHOP, "admin_url": fake.url},
                  workers={"retry_base_seconds": 0.1, "retry_max_seconds": 0.5},
                  categories={"default": {"compose": {"width": 320, "height": 320, "padding": 10, "align": "bottom"},
                                          "shadow": {"mode": "none"}, "views": ["Front", "Side", "Top"],
                                          "product_settle_seconds": 1.0, **category}})


def order_of(fake, product) -> list[str]:
    """The product's media as view labels, in their order on the product page."""
    return [re.search(r"-(\d\d-[a-z]+)-[0-9a-f]{8}", name).group(1) for name in fake.store.media_filenames(product)]


@pytest.mark.slow
def test_held_photos_reach_the_shop_only_when_approved_once_each_in_view_order(tmp_path):
    from tests.fake_shopify import FakeShopify
    from tests.fake_shopify.server import Faults
    from tests.fake_shopify.testing import TOKEN

    with FakeShopify(faults=Faults(**FAULTS)) as fake:
        product = fake.store.add_product("Sony A7 IV", skus=["CAM-331"])
        daemon = shop_daemon(tmp_path, fake, review={"mode": "always"})
        try:
            daemon.start(env={"SHOPIFY_ACCESS_TOKEN": TOKEN})
            for i, (view, (w, h)) in enumerate(SIZES.items()):
                write(daemon.inbox / f"CAM-331_{view}_{i + 1}.jpg", view_photo(w, h, seed=i))
            held = wait_for(lambda: (lambda j: j if len(j) == 3 else None)(daemon.jobs("needs_review")), 40,
                            "three held cut-outs")
            assert fake.store.media_filenames(product) == []  # nothing reached the shop unseen
            by_view = {j["view"]: j["id"] for j in held}
            for view in ("Top", "Front", "Side"):  # approved in another order than the page's
                assert daemon.booth("approve", str(by_view[view])).returncode == 0
            assert daemon.booth("approve", str(by_view["Top"])).returncode == 1  # twice: nothing more
            daemon.wait_done(3, timeout=90)
        finally:
            daemon.stop()
        names = fake.store.media_filenames(product)
        assert len(names) == len(set(names)) == 3  # exactly once each
        assert order_of(fake, product) == ["01-front", "02-side", "03-top"]  # the category's view order
        assert fake.stats.invalid == [] and fake.stats.over_limit == 0


@pytest.mark.slow
def test_a_late_view_that_shrinks_the_scale_replaces_the_published_views_in_place(tmp_path):
    from tests.fake_shopify import FakeShopify
    from tests.fake_shopify.server import Faults
    from tests.fake_shopify.testing import TOKEN

    with FakeShopify(faults=Faults(**FAULTS)) as fake:
        product = fake.store.add_product("Sony A7 IV", skus=["CAM-331"])
        daemon = shop_daemon(tmp_path, fake, review={"mode": "never"},
                             compose={"width": 320, "height": 320, "padding": 10, "align": "bottom",
                                      "scale": "product"})
        try:
            daemon.start(env={"SHOPIFY_ACCESS_TOKEN": TOKEN})
            write(daemon.inbox / "CAM-331_Front_1.jpg", view_photo(*SIZES["Front"], seed=1))
            write(daemon.inbox / "CAM-331_Side_2.jpg", view_photo(*SIZES["Side"], seed=2))
            daemon.wait_done(2, timeout=60)
            wait_for(lambda: len(fake.store.media_filenames(product)) == 2, 30, "two views published")
            before = list(product.media)
            write(daemon.inbox / "CAM-331_Top_3.jpg", view_photo(*SIZES["Top"], seed=3))  # larger: a smaller scale
            wait_for(lambda: len(daemon.jobs("done")) == 3 and set(before) <= set(fake.store.source_updates), 90,
                     "the earlier views replaced on the shop")
        finally:
            daemon.stop()
        assert product.media[:2] == before  # same media ids, same positions
        assert len(product.media) == len(set(product.media)) == 3  # no duplicates
        assert order_of(fake, product) == ["01-front", "02-side", "03-top"]
        assert fake.stats.invalid == [] and fake.stats.over_limit == 0
