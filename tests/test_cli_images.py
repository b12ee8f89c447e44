"""booth process / preview / eval on real files: what an operator tuning a
category or checking a folder by hand sees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from daemon.cli import main
from tests.conftest import encode_bytes, sweep_photo


@pytest.fixture
def site(tmp_path):
    """A config with two categories told apart by canvas size, and a route between them."""
    config = {
        "state_dir": "state", "output": {"dir": "outbox"},
        "routes": [{"regex": r"^Lenses/(?P<product>[^/]+)/", "category": "lenses"}],
        "categories": {
            "default": {"compose": {"width": 160, "height": 160}},
            "lenses": {"compose": {"width": 240, "height": 120},
                       "brand": {"bar": {"text": "{title} #{serial}", "size": 12, "opacity": 1.0,
                                         "background": "#ff0000", "position": "top"}}},
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def booth(site: Path, *args: str) -> int:
    return main([*args, "--config", str(site / "config.yaml")])


def test_process_finishes_a_folder_by_its_routes_and_reports_each_failure(site, capsys):
    shots = site / "shots"
    photo, _ = sweep_photo(320, "dark", seed=1)
    put(shots / "Lenses" / "Sigma 35mm #77" / "front.jpg", encode_bytes(photo))
    put(shots / "misc" / "cap.jpg", encode_bytes(sweep_photo(320, "red", seed=2)[0]))
    put(shots / "misc" / "broken.jpg", encode_bytes(photo)[:900])
    out = site / "done"

    assert booth(site, "process", str(shots), "-o", str(out)) == 1  # one photo failed

    err = capsys.readouterr().err
    assert "FAILED" in err and "broken.jpg" in err and "truncated" in err
    assert "2 of 3 photos finished" in err and "1 failed" in err
    # Written as the daemon writes: <category>/<product>/
    lens = Image.open(out / "lenses" / "Sigma 35mm #77" / "front.jpg")
    cap = Image.open(out / "default" / "misc" / "cap.jpg")
    assert lens.size == (240, 120) and cap.size == (160, 160)  # the route chose the category
    assert not list(out.rglob("broken.jpg"))
    # The lenses profile's branding bar (red, along the top) is on it, the default's is not.
    top = np.asarray(lens.convert("RGB"))[:6, :, :].reshape(-1, 3).mean(axis=0)
    assert top[0] > 180 and top[1] < 90
    top = np.asarray(cap.convert("RGB"))[:6, :, :].reshape(-1, 3).mean(axis=0)
    assert top.min() > 200


def test_process_fills_the_bar_from_the_route_as_the_daemon_does(site):
    from daemon.commands.images import route
    from daemon.config import load_config

    config = load_config(site / "config.yaml")
    routed = route(config, "Lenses/Sigma 35mm #77/front.jpg")
    assert (routed.category, routed.product) == ("lenses", "Sigma 35mm #77")
    fields = routed.fields
    assert (fields["title"], fields["serial"], fields["category"]) == ("Sigma 35mm", "77", "lenses")
    forced = route(config, "Lenses/Sigma 35mm #77/front.jpg", "default")
    assert forced.category == forced.fields["category"] == "default"


def test_process_mirrors_the_input_tree_when_asked(site):
    put(site / "shots" / "Lenses" / "Sigma 35mm #77" / "front.jpg", encode_bytes(sweep_photo(200, seed=6)[0]))
    assert booth(site, "process", str(site / "shots"), "-o", str(site / "o"), "--mirror") == 0
    assert Image.open(site / "o" / "Lenses" / "Sigma 35mm #77" / "front.jpg").size == (240, 120)


def test_a_photo_named_by_itself_is_routed_by_its_path_in_the_watched_folder(site, capsys):
    config = yaml.safe_load((site / "config.yaml").read_text())
    config["watch"] = {"paths": ["inbox"]}
    (site / "config.yaml").write_text(yaml.safe_dump(config))
    path = put(site / "inbox" / "Lenses" / "Sigma 35mm #77" / "front.jpg", encode_bytes(sweep_photo(200, seed=7)[0]))
    assert booth(site, "process", str(path), "-o", str(site / "o")) == 0
    assert "lenses/Sigma 35mm #77" in capsys.readouterr().out
    assert Image.open(site / "o" / "lenses" / "Sigma 35mm #77" / "front.jpg").size == (240, 120)
    elsewhere = put(site / "loose" / "front.jpg", encode_bytes(sweep_photo(200, seed=7)[0]))
    assert booth(site, "process", str(elsewhere), "-o", str(site / "p"), "--as", "Lenses/Zeiss #5/front.jpg") == 0
    assert Image.open(site / "p" / "lenses" / "Zeiss #5" / "front.jpg").size == (240, 120)


def test_process_reports_every_photo_with_its_confidence_and_verdict(site):
    good, _ = sweep_photo(300, "dark", seed=8)
    put(site / "r" / "good.jpg", encode_bytes(good))
    put(site / "r" / "broken.jpg", encode_bytes(good)[:900])
    put(site / "r" / "text.jpg", b"just some text, not a photo" * 20)
    report_path = site / "report.json"
    assert booth(site, "process", str(site / "r"), "-o", str(site / "o"), "--report", str(report_path)) == 1
    photos = {Path(p["input"]).name: p for p in json.loads(report_path.read_text())["photos"]}
    assert set(photos) == {"good.jpg", "broken.jpg", "text.jpg"}
    g = photos["good.jpg"]
    assert g["status"] == "done" and g["category"] == "default" and g["product"] == "good"
    assert 0 <= g["confidence"] <= 1 and g["verdict"] in ("publish", "review") and isinstance(g["reasons"], list)
    assert Path(g["output"]).is_file()
    assert photos["broken.jpg"]["status"] == photos["text.jpg"]["status"] == "quarantined"
    assert photos["text.jpg"]["output"] is None and "not an image" in photos["text.jpg"]["error"]


def test_process_category_option_overrides_the_routes(site, capsys):
    path = put(site / "Lenses" / "x" / "a.jpg", encode_bytes(sweep_photo(200, seed=3)[0]))
    assert booth(site, "process", str(path), "-o", str(site / "o"), "--category", "default") == 0
    assert Image.open(site / "o" / "default" / "a" / "a.jpg").size == (160, 160)
    assert booth(site, "process", str(path), "--category", "lense") != 0
    assert "unknown category 'lense' (did you mean 'lenses'?)" in capsys.readouterr().err


def test_process_writes_each_alpha_at_the_photos_size(site):
    photo, truth = sweep_photo(300, "dark", seed=4)
    path = put(site / "in" / "body.jpg", encode_bytes(photo))
    assert booth(site, "process", str(site / "in"), "-o", str(site / "o"), "--mask-dir", str(site / "m")) == 0
    mask = np.asarray(Image.open(site / "m" / "body.png"))
    assert mask.dtype == np.uint8 and mask.shape == (300, 300)
    inside, outside = mask[truth > 0], mask[truth == 0]
    assert (inside > 200).mean() > 0.97 and (outside < 50).mean() > 0.97
    assert path.exists()  # the original is left alone


def test_process_with_nothing_to_do_says_so(site, capsys):
    (site / "empty").mkdir()
    assert booth(site, "process", str(site / "empty")) == 1
    assert "no photos found" in capsys.readouterr().err


def test_preview_shows_original_mask_and_result_side_by_side(site, capsys):
    path = put(site / "p.jpg", encode_bytes(sweep_photo(400, "red", seed=5)[0]))
    sheet_path = site / "sheets" / "p.png"
    assert booth(site, "preview", str(path), "-o", str(sheet_path)) == 0
    sheet = np.asarray(Image.open(sheet_path).convert("RGB")).astype(int)
    assert sheet.shape[1] > 3 * sheet.shape[0] // 2  # three panels in a row
    third = sheet.shape[1] // 3
    original, result = sheet[60:-60, 20:third - 20], sheet[60:-60, 2 * third + 20:-20]
    reddish = lambda px: ((px[..., 0] > 140) & (px[..., 1] < 90)).mean()  # noqa: E731
    assert reddish(original) > 0.05 and reddish(result) > 0.05  # the product is in both panels

    assert booth(site, "preview", str(site / "absent.jpg"), "-o", str(site / "x.png")) == 1
    assert "absent.jpg" in capsys.readouterr().err


def test_eval_scores_each_pair_and_the_mean(site, capsys):
    images, masks = site / "images", site / "masks"
    for i, kind in enumerate(("dark", "red")):
        photo, truth = sweep_photo(360, kind, seed=10 + i)
        put(images / f"{kind}.jpg", encode_bytes(photo, quality=95))
        put(masks / f"{kind}.png", encode_bytes(truth, "PNG"))
    put(images / "unpaired.jpg", encode_bytes(sweep_photo(100)[0]))

    assert booth(site, "eval", str(images), str(masks), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in report["images"]] == ["dark.jpg", "red.jpg"]
    for row in report["images"]:
        assert row["iou"] > 0.95 and row["mae"] < 0.03 and 0.5 < row["boundary_f"] <= 1.0
    assert report["mean"]["iou"] == pytest.approx(np.mean([r["iou"] for r in report["images"]]))

    # A broken photo is reported and the rest still scored; the exit status says so.
    put(images / "bad.jpg", b"not a jpeg")
    put(masks / "bad.png", encode_bytes(np.zeros((10, 10), np.uint8), "PNG"))
    assert booth(site, "eval", str(images), str(masks)) == 1
    captured = capsys.readouterr()
    assert "bad.jpg" in captured.err and "mean" in captured.out

    assert booth(site, "eval", str(site / "nope"), str(masks)) == 2
    assert "not a folder" in capsys.readouterr().err


def test_eval_counts_a_photo_it_cannot_cut_as_failed_and_an_empty_cutout_as_iou_zero(site, capsys):
    images, masks = site / "images", site / "masks"
    photo, truth = sweep_photo(360, "dark", seed=3)
    put(images / "ok.jpg", encode_bytes(photo, quality=95))
    put(masks / "ok.png", encode_bytes(truth, "PNG"))
    put(images / "black.jpg", encode_bytes(np.full((200, 200, 3), 15, np.uint8)))   # no sweep
    put(masks / "black.png", encode_bytes(np.full((200, 200), 255, np.uint8), "PNG"))
    put(images / "empty.jpg", encode_bytes(np.full((200, 200, 3), 245, np.uint8)))  # a product missed
    put(masks / "empty.png", encode_bytes(np.pad(np.full((40, 40), 255, np.uint8), 80), "PNG"))

    assert booth(site, "eval", str(images), str(masks), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    scored = {r["image"]: r["iou"] for r in report["images"]}
    assert set(scored) == {"ok.jpg", "empty.jpg"} and scored["empty.jpg"] == 0 and scored["ok.jpg"] > 0.95
    assert len(report["failed"]) == 1 and report["failed"][0].startswith("black.jpg: no sweep")
