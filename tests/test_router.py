"""Paths from the booth's folder layouts -> category, product key, view, index."""

from pathlib import Path

import pytest

from daemon.config import RouteRule, load_config
from daemon.router import Router

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def router():
    return Router(load_config(REPO / "config.yaml").routes)


@pytest.mark.parametrize("rel, category, product, view, index", [
    ("UsedCameraGear/Cameras/Canon r5 #816/Canon r5 #816-Front-JPEG-1.jpg", "used-gear", "Canon r5 #816", "Front", 1),
    ("UsedCameraGear/Lens/sigma 24-70 #624/sigma 24-70 #624-Side 270-JPEG-2.jpg",
     "used-gear", "sigma 24-70 #624", "Side 270", 2),
    ("Work/048459373763/Packshot/048459373763_FrontView_1.jpg", "cameras", "048459373763", "FrontView", 1),
    ("048459373763_BackView_3.jpg", "cameras", "048459373763", "BackView", 3),
    ("Lenses/RF 50mm/a.jpg", "lenses", "RF 50mm", None, None),
    ("misc/thing.png", "default", "misc", None, None),
    ("loose.jpg", "default", "loose", None, None),
])
def test_store_layouts_route_to_category_product_view_and_index(router, rel, category, product, view, index):
    route = router.route(rel)
    assert (route.category, route.product_key, route.view, route.index) == (category, product, view, index)


def test_title_and_serial_are_split_for_the_branding_bar(router):
    route = router.route("UsedCameraGear/P/Canon r5 #816/Canon r5 #816-Top-JPEG-1.jpg")
    assert route.fields["title"] == "Canon r5" and route.fields["serial"] == "816"
    assert route.fields["view"] == "Top" and route.fields["category"] == "used-gear"


def test_a_barcode_product_is_also_the_sku_and_barcode(router):
    fields = router.route("048459373763_FrontView_1.jpg").fields
    assert fields["sku"] == fields["barcode"] == "048459373763"


def test_a_glob_rule_still_guesses_the_view_from_the_file_name():
    router = Router([RouteRule(glob="Accessories/**", category="accessories")])
    route = router.route("Accessories/strap #12/strap #12-Back-JPEG-4.jpg")
    assert (route.category, route.product_key, route.view, route.index) == ("accessories", "strap #12", "Back", 4)


def test_extra_named_groups_become_fields():
    router = Router([RouteRule(regex=r"^(?P<vendor>[^/]+)/(?P<product>[^/]+)/", category="default")])
    assert router.route("Sony/A7 IV/x.jpg").fields["vendor"] == "Sony"


@pytest.mark.parametrize("pattern, path, hit", [
    ("Lenses/**", "Lenses/a/b.jpg", True),
    ("Lenses/**", "lenses/b.jpg", True),
    ("**/*.jpg", "a.jpg", True),
    ("**/*.jpg", "x/y/a.jpg", True),
    ("*/a.jpg", "x/y/a.jpg", False),
    ("x/[ab].jpg", "x/b.jpg", True),
])
def test_globs_cross_folders_only_with_double_star(pattern, path, hit):
    router = Router([RouteRule(glob=pattern, category="lenses")])
    assert (router.route(path).category == "lenses") is hit


def test_a_rule_can_match_the_tags_the_booth_wrote():
    router = Router([RouteRule(meta={"preset": "Lenses*"}, category="lenses"),
                     RouteRule(glob="**", meta={"Framing": "tight"}, category="accessories")])
    tags = {"preset": "Lenses Front", "product": "048459373763", "keywords": "lens, sigma"}
    got = router.route("Workfolder/IMG_0001.jpg", tags)
    assert (got.category, got.product_key) == ("lenses", "048459373763")  # the product from the tags
    assert got.fields["preset"] == "Lenses Front" and got.fields["keywords"] == "lens, sigma"
    assert router.route("x/IMG_2.jpg", {"framing": "Tight"}).category == "accessories"
    assert router.route("x/IMG_3.jpg", {}).category == "default"
    named = router.route("048459373763_Back_2.jpg", {"preset": "Lenses Back", "product": "other"})
    assert named.view == "Back"  # what the file's name says, when the tags give no view
