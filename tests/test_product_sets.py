"""A product's views as one set: one scale, one floor; and what the booth
wrote into each file (IPTC/XMP) routing and filling the fields."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from daemon.cli import main
from tests.daemon_helpers import Daemon, wait_for, write

SIZES = {"Front": (220, 140), "Top": (330, 200), "Side": (160, 150)}  # one camera distance: true sizes in px


def view_photo(w: int, h: int, size: int = 800, seed: int = 0) -> bytes:
    """A dark box of w x h pixels standing on a light sweep."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 244, np.uint8)
    x0, y1 = (size - w) // 2, size * 3 // 4
    img[y1 - h:y1, x0:x0 + w] = (40, 44, 52)
    img = np.clip(img.astype(int) + rng.integers(-2, 3, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def box_of(path: Path) -> tuple[int, int, int]:
    """(width, height, bottom) of the dark product on a finished image."""
    img = np.asarray(Image.open(path).convert("L"))
    ys, xs = np.nonzero(img < 120)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1), int(ys.max())


def settings(scale: str, **category) -> dict:
    return {"categories": {"default": {"compose": {"width": 400, "height": 400, "padding": 10, "align": "bottom",
                                                   "scale": scale},
                                       "shadow": {"mode": "none"}, "review": {"mode": "never"}, **category}}}


def assert_one_scale(outputs: dict[str, Path]) -> None:
    boxes = {view: box_of(path) for view, path in outputs.items()}
    ratios = [boxes[v][0] / SIZES[v][0] for v in SIZES]
    assert max(ratios) / min(ratios) < 1.02, boxes  # one scale, within 2 %
    assert max(ratios) == pytest.approx(320 / 330, rel=0.02)  # the largest view fills the padding
    floors = [b[2] for b in boxes.values()]
    assert max(floors) - min(floors) <= 1  # one floor line (to a pixel of edge rounding)


def assert_own_scales(outputs: dict[str, Path]) -> None:
    widths = {view: box_of(path)[0] for view, path in outputs.items()}
    ratios = [widths[v] / SIZES[v][0] for v in SIZES]
    assert max(ratios) / min(ratios) > 1.3, widths  # each view fills its own canvas


# ----------------------------------------------------------------------- booth process

@pytest.mark.parametrize("scale", ["product", "photo"])
def test_process_renders_the_views_of_a_product_at_one_scale_or_each_at_its_own(tmp_path, scale):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(settings(scale)))
    for i, (view, (w, h)) in enumerate(SIZES.items()):
        write(tmp_path / "shots" / "CAM-7" / f"CAM-7_{view}_{i + 1}.jpg", view_photo(w, h, seed=i))
    assert main(["process", str(tmp_path / "shots"), "-o", str(tmp_path / "out"),
                 "--report", str(tmp_path / "report.json"), "--config", str(tmp_path / "config.yaml")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())["photos"]
    outputs = {p["view"]: Path(p["output"]) for p in report}
    (assert_one_scale if scale == "product" else assert_own_scales)(outputs)
    assert {p["scale"] is not None for p in report} == {scale == "product"}


# ----------------------------------------------------------------------- the daemon

def _daemon(tmp_path, scale="product", **category):
    cfg = settings(scale, product_settle_seconds=1.0, **category)
    return Daemon(tmp_path, settle=0.2, **cfg)


def _outputs(daemon) -> dict[str, Path]:
    return {j["view"]: Path(j["output"]) for j in daemon.jobs("done")}


def test_views_dropped_seconds_apart_are_rendered_at_one_scale(tmp_path):
    daemon = _daemon(tmp_path)
    try:
        daemon.start()
        for i, (view, (w, h)) in enumerate(SIZES.items()):
            write(daemon.inbox / "CAM-7" / f"CAM-7_{view}_{i + 1}.jpg", view_photo(w, h, seed=i))
            wait_for(lambda n=i + 1: len(daemon.jobs()) == n, 10, "the view recorded")
        daemon.wait_done(3, timeout=40)
        assert "rendered at one scale" in daemon.log_text()
        assert_one_scale(_outputs(daemon))
    finally:
        daemon.stop()


def test_a_complete_set_of_listed_views_does_not_wait_for_the_settle_time(tmp_path):
    daemon = _daemon(tmp_path, views=list(SIZES))
    daemon.settings["categories"]["default"]["product_settle_seconds"] = 600
    daemon.write_config()
    try:
        daemon.start()
        for i, (view, (w, h)) in enumerate(SIZES.items()):
            write(daemon.inbox / "CAM-7" / f"CAM-7_{view}_{i + 1}.jpg", view_photo(w, h, seed=i))
        daemon.wait_done(3, timeout=40)  # far sooner than 600 s: every listed view is in
        assert_one_scale(_outputs(daemon))
    finally:
        daemon.stop()


def test_a_late_view_that_needs_a_smaller_scale_renders_the_earlier_ones_again(tmp_path):
    daemon = _daemon(tmp_path)
    try:
        daemon.start()
        small = {v: s for v, s in SIZES.items() if v != "Top"}
        for i, (view, (w, h)) in enumerate(small.items()):
            write(daemon.inbox / "CAM-7" / f"CAM-7_{view}_{i + 1}.jpg", view_photo(w, h, seed=i))
        daemon.wait_done(2, timeout=40)
        before = {v: box_of(p)[0] for v, p in _outputs(daemon).items()}
        write(daemon.inbox / "CAM-7" / "CAM-7_Top_3.jpg", view_photo(*SIZES["Top"], seed=9))
        wait_for(lambda: len(daemon.jobs("done")) == 3 and all(
            box_of(p)[0] < before[v] for v, p in _outputs(daemon).items() if v in before), 40,
            "the earlier views rendered again, smaller")
        assert "rendered again" in daemon.log_text()
        assert_one_scale(_outputs(daemon))
    finally:
        daemon.stop()


# ----------------------------------------------------------------------- what the booth wrote

def _xmp(preset: str, product: str) -> bytes:
    return ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:ss="http://ns.styleshoots.com/1.0/" '
            f'ss:Preset="{preset}" ss:Product="{product}" ss:Framing="Full">'
            '<dc:subject><rdf:Bag><rdf:li>lens</rdf:li><rdf:li>used</rdf:li></rdf:Bag></dc:subject>'
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def _iptc_app13(**datasets: str) -> bytes:
    """A JPEG APP13 segment (Photoshop 3.0 8BIM 0x0404) holding IPTC IIM record 2 datasets."""
    numbers = {"title": 5, "keywords": 25, "headline": 105}
    iim = b"".join(b"\x1c\x02" + bytes([numbers[k]]) + struct.pack(">H", len(v.encode())) + v.encode()
                   for k, v in datasets.items())
    block = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iim)) + iim
    if len(iim) % 2:
        block += b"\x00"
    body = b"Photoshop 3.0\x00" + block
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def tagged_photo(preset: str, product: str, iptc: dict | None = None) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(view_photo(200, 140))).save(buf, "JPEG", quality=92, xmp=_xmp(preset, product))
    data = buf.getvalue()
    if iptc:
        data = data[:2] + _iptc_app13(**iptc) + data[2:]
    return data


def test_tags_are_read_from_real_files():
    from pipeline.metadata import read_tags

    tags = read_tags(tagged_photo("Lenses Front", "048459373763", {"headline": "Sigma 35mm Art",
                                                                    "keywords": "lens"}))
    assert tags["preset"] == "Lenses Front" and tags["product"] == "048459373763"
    assert tags["framing"] == "Full" and tags["keywords"] == "lens, used" and tags["headline"] == "Sigma 35mm Art"
    assert read_tags(view_photo(10, 10)) == {} and read_tags(b"not an image") == {}


def test_routes_match_the_tags_and_the_tags_fill_the_bar_and_the_product(tmp_path):
    cfg = {"routes": [{"meta": {"preset": "Lenses*"}, "category": "lenses"}],
           "categories": {"default": {"compose": {"width": 200, "height": 200}, "review": {"mode": "never"}},
                          "lenses": {"brand": {"bar": {"text": "{preset} {headline}", "size": 10}}}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    write(tmp_path / "shots" / "IMG_0001.jpg", tagged_photo("Lenses Front", "048459373763",
                                                             {"headline": "Sigma 35mm Art"}))
    write(tmp_path / "shots" / "IMG_0002.jpg", view_photo(200, 140))
    assert main(["process", str(tmp_path / "shots"), "-o", str(tmp_path / "out"),
                 "--report", str(tmp_path / "r.json"), "--config", str(tmp_path / "config.yaml")]) == 0
    report = {Path(p["input"]).name: p for p in json.loads((tmp_path / "r.json").read_text())["photos"]}
    tagged, plain = report["IMG_0001.jpg"], report["IMG_0002.jpg"]
    assert (tagged["category"], tagged["product"]) == ("lenses", "048459373763")
    assert (plain["category"], plain["product"]) == ("default", "IMG_0002")  # absent tags are simply absent
    from daemon.commands.images import photo_tags, route
    from daemon.config import load_config
    from pipeline.template import fill_template

    config = load_config(tmp_path / "config.yaml")
    fields = route(config, "IMG_0001.jpg", tags=photo_tags(tmp_path / "shots" / "IMG_0001.jpg")).fields
    assert fill_template(config.categories["lenses"].profile.brand.bar.text, fields) == "Lenses Front Sigma 35mm Art"
    bar = np.asarray(Image.open(tagged["output"]).convert("L"))[-36:]
    assert (bar > 200).sum() > 50  # the bar carries its text (white on the dark bar)


def test_status_names_products_with_a_view_missing_or_shot_twice(tmp_path):
    daemon = _daemon(tmp_path, scale="photo", views=["Front", "Top", "Side"])
    try:
        daemon.start()
        write(daemon.inbox / "CAM-7" / "CAM-7_Front_1.jpg", view_photo(200, 140, seed=1))
        write(daemon.inbox / "CAM-7" / "CAM-7_Front_2.jpg", view_photo(210, 140, seed=2))
        write(daemon.inbox / "CAM-7" / "CAM-7_Side_3.jpg", view_photo(150, 140, seed=3))
        daemon.wait_done(3)
        status = daemon.booth("status").stdout
        assert "views        default/CAM-7: missing Top; Front shot twice" in status
        report = json.loads(daemon.booth("status", "--json").stdout)["view_sets"]
        assert report == [{"category": "default", "product": "CAM-7", "missing": ["Top"], "doubled": ["Front"]}]
    finally:
        daemon.stop()
