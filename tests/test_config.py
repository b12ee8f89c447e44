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


# --------------------------------------------------------------------------- keys given twice

@pytest.mark.parametrize("text, key, lines", [
    ("watch: {paths: [inbox]}\nstate_dir: a\nstate_dir: b\n", "state_dir", (2, 3)),
    ("categories:\n  cameras:\n    shadow: {mode: none}\n    compose: {width: 900}\n    shadow: {mode: cast}\n",
     "shadow", (3, 5)),
])
def test_a_key_given_twice_is_an_error_naming_it_and_its_lines(tmp_path, text, key, lines):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    (finding,) = info.value.findings
    assert finding.key == key and f"on line {lines[0]} and line {lines[1]}" in finding.message


def test_a_yaml_merge_may_override_a_key(tmp_path):
    text = "base: &b {width: 900, height: 900}\ncategories: {default: {compose: {<<: *b, width: 1000}}}\n"
    problems_text = problems(write(tmp_path, text))  # 'base' itself is unknown, but no key is given twice
    assert "base: unknown key" in problems_text and "twice" not in problems_text


# --------------------------------------------------------------------------- folders that overlap

@pytest.mark.parametrize("text, key, says", [
    ("output: {dir: .}\n", "output.dir", "contains watch.paths[0]"),
    ("output: {dir: inbox}\n", "output.dir", "is watch.paths[0]"),
    ("state_dir: inbox/state\n", "state_dir", "is inside watch.paths[0]"),
    ("quarantine_dir: inbox/bad\n", "quarantine_dir", "is inside watch.paths[0]"),
    ("archive_dir: inbox\n", "archive_dir", "is watch.paths[0]"),
    ("watch: {paths: [inbox, inbox/Cameras]}\n", "watch.paths[1]", "is inside watch.paths[0]"),
    ("watch: {paths: [inbox/Cameras, inbox]}\n", "watch.paths[0]", "is inside watch.paths[1]"),
    ("watch: {paths: [inbox, ./inbox]}\n", "watch.paths[1]", "is watch.paths[0]"),
])
def test_folders_that_overlap_a_watch_folder_are_errors_naming_both(tmp_path, text, key, says):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    (finding,) = info.value.findings
    assert finding.key == key and says in finding.message and str(tmp_path / "inbox") in finding.message


def test_output_inside_a_watch_folder_is_allowed(tmp_path):
    assert load_config(write(tmp_path, "output: {dir: inbox/finished}\n")).output.dir == tmp_path / "inbox" / "finished"


# --------------------------------------------------------------------------- paths

def test_paths_and_their_defaults_resolve_against_the_config_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(REPO)
    config = load_config(write(tmp_path, "quarantine_dir: ~/bad\nsegmenter: {name: birefnet-general, "
                                         "path: models/own.onnx}\nsegmenters: {lite: {name: birefnet-lite, "
                                         "path: ~/lite.onnx}}\n"))
    assert config.archive_dir == tmp_path / "archive" and config.models_dir == tmp_path / "state" / "models"
    assert config.quarantine == tmp_path / "home" / "bad"
    assert config.segmenter.path == tmp_path / "models" / "own.onnx"
    assert config.segmenters["lite"].path == tmp_path / "home" / "lite.onnx"


def test_config_path_is_a_declared_type_resolved_from_the_validation_context(tmp_path):
    from pipeline.profile import LogoParams

    shutil.copy(REPO / "assets" / "logo.png", tmp_path / "logo.png")
    assert LogoParams.model_validate({"path": "logo.png"}, context={"base": tmp_path}).path == tmp_path / "logo.png"
    with pytest.raises(ValueError, match="logo file not found: logo.png"):
        LogoParams.model_validate({"path": "logo.png"})  # no base: relative, and checked as such


def test_every_config_model_has_the_one_frozen_base():
    import daemon.config as module
    from pipeline.profile import Params

    assert not hasattr(module, "Section")
    for model in (module.Config, module.WatchConfig, module.Category, module.ReviewParams, module.ReviewConfig):
        assert issubclass(model, Params)
    with pytest.raises(Exception, match="frozen"):
        load_config(REPO / "config.yaml").watch.polling = True


# --------------------------------------------------------------------------- templates

@pytest.mark.parametrize("settings, key", [
    ("{brand: {bar: {text: 'USED - {titel}'}}}", "categories.used.brand.bar.text"),
    ("{publish: {alt: '{titel} - {view}'}}", "categories.used.publish.alt"),
])
def test_a_template_field_nothing_provides_is_an_error_with_a_suggestion(tmp_path, settings, key):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"categories:\n  used: {settings}\n"))
    (finding,) = info.value.findings
    assert finding.key == key and "no field {titel} (did you mean {title}?)" in finding.message


def test_a_route_regex_group_is_a_field_for_every_template(tmp_path):
    config = load_config(write(tmp_path, r"""
routes: [{regex: '^(?P<product>[^/]+)/(?P<shot>\d+)', category: used}]
categories: {used: {brand: {bar: {text: '{title} {shot} {product_key}'}}, publish: {alt: '{barcode} {shot}'}}}
"""))
    assert config.categories["used"].profile.brand.bar.text == "{title} {shot} {product_key}"


def test_tags_the_booth_writes_are_fields_too(tmp_path):
    config = load_config(write(tmp_path, "routes: [{meta: {Lens_Mount: 'E*'}, category: lenses}]\n"
                                         "categories: {lenses: {brand: {bar: {text: '{preset} {headline} "
                                         "{lens_mount}'}}}}\n"))
    assert config.routes[0].meta == {"Lens_Mount": "E*"} and config.routes[0].glob is None


def test_a_route_template_may_only_use_its_own_regex_groups(tmp_path):
    text = problems(write(tmp_path, "routes: [{regex: '^(?P<shot>\\d+)', view: '{shott}'}, "
                                    "{glob: 'x/**', product: '{sku}'}]\n"))
    assert "routes[0].view: template '{shott}': no field {shott} (did you mean {shot}?)" in text
    assert "routes[1].product: template '{sku}': no field {sku}; only a regex's named groups fill" in text


def test_a_mistake_in_default_is_reported_once_not_per_category(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "categories:\n  default: {shadow: {mode: dramatic}, publish: {alt: '{titel}'}, "
                                    "segmenter: bogus}\n  cameras: {}\n  lenses: {extends: cameras}\n"))
    keys = [f.key for f in info.value.findings]
    assert keys.count("categories.default.shadow.mode") == 1 and len(keys) == 3
    assert not [k for k in keys if k.startswith(("categories.cameras", "categories.lenses"))]


def test_a_category_that_sets_the_bad_value_itself_is_reported_too(tmp_path):
    text = problems(write(tmp_path, "categories: {default: {shadow: {mode: dramatic}}, "
                                    "cameras: {shadow: {mode: gloomy}}}\n"))
    assert "categories.default.shadow.mode" in text and "categories.cameras.shadow.mode" in text


# --------------------------------------------------------------------------- new keys

def test_the_new_keys_have_their_documented_defaults():
    config = load_config(REPO / "config.yaml")
    watch = config.watch
    assert (watch.follow_symlinks, watch.empty_grace_seconds, watch.root_check_seconds) == (False, 30.0, 5.0)
    assert config.category(None).profile.load.max_bytes == 200_000_000
    review = config.review
    assert (review.enabled, review.host, review.port, review.token_env, review.token_credential) == (
        True, "127.0.0.1", 8470, "BOOTH_REVIEW_TOKEN", "review-token")
    gate = config.category("cameras").review
    assert gate.mode == "auto" and 0 < gate.min_confidence < 1


def test_a_category_review_gate_is_inherited_and_checked(tmp_path):
    config = load_config(write(tmp_path, "categories: {default: {review: {mode: always, min_confidence: 0.8}}, "
                                         "lenses: {review: {mode: never}}, cameras: {}}\n"))
    assert config.categories["cameras"].review.mode == "always"
    assert (config.categories["lenses"].review.mode, config.categories["lenses"].review.min_confidence) == (
        "never", 0.8)
    text = problems(write(tmp_path, "categories: {lenses: {review: {mode: sometimes, min_confidence: 1.5}}}\n"))
    assert "categories.lenses.review.mode" in text and "categories.lenses.review.min_confidence" in text


def test_categories_pick_a_labelled_segmenter(tmp_path):
    config = load_config(write(tmp_path, "segmenters: {lite: {name: birefnet-lite}}\n"
                                         "categories: {lenses: {segmenter: lite}, cameras: {}}\n"))
    assert config.segmenter_for("lenses") == ("lite", config.segmenters["lite"])
    assert config.segmenter_for("cameras") == ("default", config.segmenter)
    assert config.segmenter_for("no-such-category")[0] == "default"
    assert list(config.segmenter_configs()) == ["default", "lite"]


@pytest.mark.parametrize("text, expected", [
    ("segmenters: {lite: {name: birefnet-lite}}\ncategories: {lenses: {segmenter: lit}}",
     "categories.lenses.segmenter: no segmenter labelled 'lit' (did you mean 'lite'?)"),
    ("segmenters: {default: {name: birefnet-lite}}", "segmenters: 'default' is the label of the top-level"),
    ("segmenters: {lite: {name: birefnet-lit}}", "segmenters.lite: name: no segmenter called 'birefnet-lit'"),
    ("categories: {lenses: {segmenter: {name: birefnet-lite}}}", "a label from `segmenters`"),
    ("watch: {empty_grace_seconds: -1}", "watch.empty_grace_seconds"),
    ("categories: {default: {load: {max_bytes: 0}}}", "categories.default.load.max_bytes"),
    ("review: {port: 70000}", "review.port"),
])
def test_new_key_mistakes_are_reported_with_their_key(tmp_path, text, expected):
    assert expected in problems(write(tmp_path, text + "\n"))


# --------------------------------------------------------------------------- config_findings, booth config check

def test_the_bundled_config_checks_ok_and_notes_the_placeholder_logo(capsys):
    assert main(["config", "check", str(REPO / "config.yaml")]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert notes == [f"note: categories.accessories.brand.logo.path: {REPO / 'assets' / 'logo.png'} is the "
                     "bundled placeholder logo (on accessories) (fix: put the store's own logo there, or point "
                     "brand.logo.path at it)"]


def test_the_placeholder_logo_is_known_by_its_content(tmp_path):
    import hashlib

    from daemon.config import PLACEHOLDER_LOGO_SHA256, config_findings

    assert hashlib.sha256((REPO / "assets" / "logo.png").read_bytes()).hexdigest() == PLACEHOLDER_LOGO_SHA256
    shutil.copy(REPO / "assets" / "logo.png", tmp_path / "brand.png")
    config = load_config(write(tmp_path, "categories: {default: {brand: {logo: {path: brand.png}}}, cameras: {}}\n"))
    (note,) = config_findings(config, folders=False)
    assert note.level == "note" and "(on default, cameras)" in note.message


def test_a_model_not_fetched_is_a_warning_naming_the_fetch_command(tmp_path, capsys):
    path = write(tmp_path, "segmenters: {lite: {name: birefnet-lite}}\ncategories: {lenses: {segmenter: lite}}\n")
    assert main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert line.startswith("warning: segmenters.lite: model birefnet-lite: not installed")
    assert line.endswith("(fix: booth models fetch birefnet-lite)")


def test_a_watch_folder_that_cannot_be_created_is_a_warning_naming_it_and_why(tmp_path, capsys):
    (tmp_path / "share").write_text("a file where the share's folder should be")
    path = write(tmp_path, "watch: {paths: [share/inbox, inbox]}\n")
    assert main(["config", "check", str(path)]) == 1
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")]
    assert line.startswith(f"warning: watch.paths[0]: {tmp_path / 'share' / 'inbox'} does not exist and cannot be "
                           "created")
    assert f"({tmp_path / 'share'} is not a folder)" in line


def test_an_invalid_config_prints_each_error_on_its_own_line(tmp_path, capsys):
    path = write(tmp_path, "wacth: {}\ncategories: {default: {compose: {paddng: 3}}}\n")
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{path}: invalid config"
    assert sorted(err[1:]) == ["error: categories.default.compose.paddng: unknown key (did you mean 'padding'?)",
                               "error: wacth: unknown key (did you mean 'watch'?)"]
