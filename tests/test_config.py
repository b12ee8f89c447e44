"""config.yaml: the bundled file runs as documented, and every mistake an operator
can make is caught at load time with the key (and the file) it concerns."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from daemon.cli import main
from daemon.config import ConfigError, load_config
from tests.conftest import REPO


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_the_bundled_config_runs_out_of_the_box():
    config = load_config(REPO / "config.yaml")
    assert config.segmenter.name == "white-studio" and not config.shopify.enabled
    assert config.watch.paths == [REPO / "inbox"] and config.output.dir == REPO / "outbox"
    assert {"default", "cameras", "lenses", "accessories", "used-gear"} <= set(config.categories)
    profiles = {name: config.categories[name].profile for name in ("cameras", "lenses", "accessories", "used-gear")}
    # The categories really differ in padding, shadow and branding, as the file says.
    assert len({p.compose.padding for p in profiles.values()}) > 1
    assert len({p.shadow.mode for p in profiles.values()}) > 1
    assert len({(p.brand.bar is None, p.brand.logo is None) for p in profiles.values()}) > 1
    for route in config.routes:
        assert route.category in config.categories


def test_relative_paths_are_relative_to_the_config_file_not_the_working_folder(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(REPO / "assets" / "logo.png", site / "logo.png")
    path = write(site, "state_dir: var/state\nwatch: {paths: [drop]}\noutput: {dir: done}\n"
                       "categories: {default: {brand: {logo: {path: logo.png}}}}\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(path)
    assert config.state_dir == site / "var" / "state"
    assert config.watch.paths == [site / "drop"] and config.output.dir == site / "done"
    assert config.category(None).profile.brand.logo.path == site / "logo.png"


def test_a_category_inherits_default_and_can_extend_another(tmp_path):
    config = load_config(write(tmp_path, """
categories:
  default: {compose: {width: 1000, height: 800, background: '#f0f0f0'}, shadow: {mode: contact}}
  cameras: {compose: {width: 1200}}
  cameras-used: {extends: cameras, shadow: {mode: none}}
"""))
    cameras, used = config.categories["cameras"].profile, config.categories["cameras-used"].profile
    assert (cameras.compose.width, cameras.compose.height, cameras.shadow.mode) == (1200, 800, "contact")
    assert (used.compose.width, used.compose.height, used.shadow.mode) == (1200, 800, "none")
    assert used.compose.background == cameras.compose.background == (240, 240, 240)
    assert config.category("no-such-category").name == "default"


def test_an_unknown_key_is_named_with_a_suggestion_and_the_file(tmp_path):
    path = write(tmp_path, "categories:\n  lenses:\n    compose: {paddding: 5}\nwatch: {setle_seconds: 3}\n")
    text = problems(path)
    assert str(path) in text
    assert "categories.lenses.compose.paddding: unknown key (did you mean 'padding'?)" in text
    assert "watch.setle_seconds: unknown key (did you mean 'settle_seconds'?)" in text  # every problem at once


def test_a_wrong_type_names_the_key_and_the_value(tmp_path):
    text = problems(write(tmp_path, "workers: {max_in_memory: lots}\ncategories: {default: {encode: {quality: 150}}}\n"))
    assert "workers.max_in_memory" in text and "'lots'" in text
    assert "categories.default.encode.quality" in text and "150" in text


@pytest.mark.parametrize("settings, key, missing", [
    ("{brand: {bar: {font: fonts/Brand.ttf}}}", "categories.cameras.brand.bar.font", "fonts/Brand.ttf"),
    ("{brand: {logo: {path: art/logo.png}}}", "categories.cameras.brand.logo.path", "art/logo.png"),
])
def test_a_missing_font_or_logo_file_names_the_key_and_the_file(tmp_path, settings, key, missing):
    text = problems(write(tmp_path, f"categories:\n  cameras: {settings}\n"))
    assert key in text and str(tmp_path / missing) in text


@pytest.mark.parametrize("text, expected", [
    ("categories: {a: {extends: b}, b: {extends: a}}", "circular"),
    ("categories: {a: {extends: nowhere}}", "categories.a.extends: no category named 'nowhere'"),
    ("routes: [{glob: 'Lenses/**', category: lense}]", "routes[0].category: no category named 'lense'"),
    ("routes: [{glob: 'a/**', regex: '^a/'}]", "exactly one of 'glob' or 'regex'"),
    ("routes: [{regex: '^(?P<product>[^/]+'}]", "does not compile"),
    ("routes: [{regex: '^(?P<product>.+)$', product: '{product'}]", "routes.0.product: template '{product'"),
    ("categories: {default: {brand: {bar: {text: '{title.upper}'}}}}", "{title.upper} is not a field name"),
    ("segmenter: {name: birefnet-genral}", "did you mean 'birefnet-general'?"),
    ("watch: [inbox]", "watch"),
    ("- just\n- a list\n", "the top level must be a mapping"),
])
def test_each_mistake_is_reported_with_its_key(tmp_path, text, expected):
    assert expected in problems(write(tmp_path, text + "\n"))


def test_unreadable_files_say_so(tmp_path):
    assert "no such config file" in problems(tmp_path / "absent.yaml")
    assert "not valid YAML" in problems(write(tmp_path, "watch: {paths: [inbox]\n"))


def test_config_check_prints_what_it_resolves_to(capsys):
    assert main(["config", "check", str(REPO / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "segmenter:  white-studio" in out and "shopify:    off" in out
    assert "category used-gear:" in out


def test_config_check_fails_with_every_problem(tmp_path, capsys):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["categories"]["cameras"]["shadow"]["mode"] = "dramatic"
    config["routes"][0]["category"] = "camera"
    path = write(tmp_path, yaml.safe_dump(config))
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "categories.cameras.shadow.mode" in err and "'dramatic'" in err
    assert "routes[0].category: no category named 'camera'" in err
