"""``booth doctor`` on good and broken setups: real folders, a real config file,
the real CLI in a subprocess, and a real HTTP Admin API on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from daemon import doctor
from daemon.config import load_config
from daemon.doctor import (
    Sandbox, User, check_config, check_daemon_roots, check_folder, check_free_space, check_inotify, check_model,
    check_models, check_network_watch, check_provider, check_sandbox, check_shopify, check_state_local,
    count_folders, parse_unit_properties, run_checks,
)
from daemon.mounts import NETWORK_FILESYSTEMS, Mount, mount_of, network_fs, parse_mountinfo

REPO = Path(__file__).resolve().parent.parent
ME = User.named(pwd.getpwuid(os.geteuid()).pw_name)

MOUNTINFO = r"""22 1 0:21 / /proc rw,relatime shared:12 - proc proc rw
29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
41 29 0:45 / /srv/booth rw,relatime shared:30 - ext4 /dev/sdb1 rw
57 41 0:52 / /srv/booth/Booth\040Drive rw,relatime shared:40 - cifs //styleshoots/Drive rw,vers=3.1.1
58 29 0:53 / /mnt/nas rw,relatime shared:41 master:7 - nfs4 nas:/export rw,vers=4.2
"""


def write_config(site: Path, text: str = "") -> Path:
    path = site / "config.yaml"
    path.write_text("watch: {paths: [inbox]}\noutput: {dir: outbox}\nstate_dir: state\n" + text)
    return path


@pytest.fixture
def site(tmp_path) -> Path:
    """A working site: every folder the config names exists and is ours."""
    for name in ("inbox/Cameras/048459373763", "outbox", "state/quarantine"):
        (tmp_path / name).mkdir(parents=True)
    write_config(tmp_path)
    return tmp_path


def checks_for(site: Path, **kw) -> dict[str, doctor.Check]:
    config = load_config(site / "config.yaml")
    found = run_checks(config, user=ME, mounts=[], sandbox=None, environ={}, **kw)
    return {c.name: c for c in found}


def test_a_good_setup_passes_every_check(site):
    checks = checks_for(site)
    assert all(c.ok for c in checks.values()), [c for c in checks.values() if not c.ok]
    assert checks["watch folder"].status == "ok" and checks["shopify credentials"].status == "skipped"
    assert {"watch folder", "output folder", "state folder", "quarantine folder", "inotify watches",
            "model file", "execution provider", "shopify credentials", "shopify scopes"} <= set(checks)


def test_a_missing_folder_fails_naming_it_and_the_fix(site):
    (site / "outbox").rmdir()
    check = checks_for(site)["output folder"]
    assert not check.ok
    assert str(site / "outbox") in check.detail
    assert check.fix == f"sudo install -d -o {ME.name} -g {ME.group} {site / 'outbox'}"


def test_a_folder_the_service_user_cannot_write_fails(tmp_path):
    folder = tmp_path / "outbox"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    nobody = User.named("nobody")
    check = check_folder("output", folder, os.R_OK | os.W_OK | os.X_OK, nobody)
    assert not check.ok and "not writable by nobody" in check.detail
    assert check.fix.startswith("sudo chown nobody:")


def test_a_file_where_a_folder_should_be_fails(tmp_path):
    (tmp_path / "outbox").write_text("")
    assert not check_folder("output", tmp_path / "outbox", os.W_OK, ME).ok


def test_cli_reports_the_broken_folder_and_exits_non_zero(site):
    (site / "state" / "quarantine").rmdir()
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "doctor", "--config", str(site / "config.yaml"),
                           "--user", ME.name], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 1, done.stdout + done.stderr
    crosses = [line for line in done.stdout.splitlines() if line.startswith("✗")]
    assert len(crosses) == 1
    assert crosses[0].startswith(f"✗ quarantine folder: {site / 'state' / 'quarantine'} does not exist")
    assert "fix: sudo install -d" in crosses[0]
    assert f"✓ output folder: {site / 'outbox'} is writable" in done.stdout


def test_cli_reports_an_invalid_config(tmp_path):
    (tmp_path / "config.yaml").write_text("wacth: {paths: [inbox]}\n")
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "doctor", "--config", str(tmp_path / "config.yaml")],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 1
    assert done.stdout.startswith("✗ config: ") and "wacth: unknown key (did you mean 'watch'?)" in done.stdout


def test_each_config_error_is_a_line_of_its_own(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("wacth: {paths: [inbox]}\ncategories: {default: {shadow: {mode: dramatic}}}\n")
    checks, config = check_config(path)
    assert config is None and [c.status for c in checks] == ["failed", "failed"]
    assert sorted(c.detail.split(":")[0] for c in checks) == ["categories.default.shadow.mode", "wacth"]
    assert all(f"booth config check {path}" in c.fix for c in checks)


def test_cli_shows_checks_that_do_not_apply_with_a_dash(site):
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "doctor", "--config", str(site / "config.yaml"),
                           "--user", ME.name], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    lines = done.stdout.splitlines()
    assert "- model file: not applicable: the white-studio segmenter needs no model" in lines
    assert "- shopify credentials: not applicable: shopify.enabled is false" in lines
    assert not [line for line in lines if line.startswith("✓") and "not applicable" in line]
    assert "not applicable" in lines[-1]


# --------------------------------------------------------------------------- mounts

def test_parse_mountinfo_reads_mount_points_types_and_sources():
    mounts = parse_mountinfo(MOUNTINFO + "garbage line\n")
    assert [m.fstype for m in mounts] == ["proc", "ext4", "ext4", "cifs", "nfs4"]
    share = mounts[3]
    assert share.mount_point == Path("/srv/booth/Booth Drive")  # \040 is a space
    assert share.source == "//styleshoots/Drive" and share.network
    assert mounts[4].source == "nas:/export"  # optional fields (master:7) do not shift the rest


@pytest.mark.parametrize("path, fstype", [
    ("/srv/booth/Booth Drive/Cameras", "cifs"),
    ("/srv/booth/outbox", "ext4"),
    ("/srv/booth", "ext4"),
    ("/srv/boothx", "ext4"),  # a prefix of the name is not a parent
    ("/mnt/nas/inbox", "nfs4"),
])
def test_mount_of_picks_the_deepest_mount(path, fstype):
    assert mount_of(Path(path), parse_mountinfo(MOUNTINFO)).fstype == fstype


def test_a_watch_folder_on_a_share_needs_polling(tmp_path):
    mounts = parse_mountinfo(MOUNTINFO)
    text = "watch: {paths: ['/srv/booth/Booth Drive']}\n"
    (tmp_path / "config.yaml").write_text(text)
    check = check_network_watch(load_config(tmp_path / "config.yaml"), mounts)
    assert not check.ok and "cifs //styleshoots/Drive" in check.detail and "polling: true" in check.fix
    (tmp_path / "config.yaml").write_text("watch: {paths: ['/srv/booth/Booth Drive'], polling: true}\n")
    assert check_network_watch(load_config(tmp_path / "config.yaml"), mounts).ok


def test_state_on_nfs_fails(tmp_path):
    (tmp_path / "config.yaml").write_text("state_dir: /mnt/nas/booth-state\n")
    check = check_state_local(load_config(tmp_path / "config.yaml"), parse_mountinfo(MOUNTINFO))
    assert not check.ok and "SQLite" in check.detail


# --------------------------------------------------------------------------- inotify, disk

def test_inotify_limit_too_low_for_the_folders(site, tmp_path):
    for i in range(6):
        (site / "inbox" / f"product-{i}").mkdir()
    limit = tmp_path / "max_user_watches"
    limit.write_text("8\n")
    config = load_config(site / "config.yaml")
    check = check_inotify(config, [], limit_file=limit)
    assert not check.ok and "limit 8" in check.detail and "fs.inotify.max_user_watches=" in check.fix
    limit.write_text("524288\n")
    ok = check_inotify(config, [], limit_file=limit)
    assert ok.ok and ok.detail.startswith("9 folders")


def test_count_folders_stops_early(site):
    assert count_folders([site], stop_after=2) == 2


def test_free_space_under_the_threshold_fails(site):
    assert not check_free_space("output", site / "outbox", min_free=1 << 60).ok
    assert check_free_space("output", site / "outbox", min_free=1).ok


# --------------------------------------------------------------------------- model

def test_model_checks_do_not_apply_to_white_studio(site):
    checks = checks_for(site)
    assert checks["model file"].ok and "not applicable" in checks["model file"].detail
    assert checks["execution provider"].ok and "not applicable" in checks["execution provider"].detail


def test_a_missing_custom_model_file_fails(site):
    write_config(site, "segmenter: {name: custom, path: models/cut.onnx, contract: birefnet-general}\n")
    check = check_model(load_config(site / "config.yaml"))
    assert not check.ok and "cut.onnx does not exist" in check.detail


def test_a_model_the_registry_rejects_fails_with_the_fetch_command(site, monkeypatch):
    import types

    def resolver(models_dir):
        def resolve(name):
            raise FileNotFoundError(f"{models_dir}/{name}.onnx: not fetched")
        return resolve

    monkeypatch.setitem(sys.modules, "integrations.models", types.SimpleNamespace(resolver=resolver))
    write_config(site, "segmenter: {name: birefnet-general}\n")
    check = check_model(load_config(site / "config.yaml"))
    assert not check.ok and "not fetched" in check.detail
    assert check.fix.endswith("booth models fetch birefnet-general")


def test_a_model_file_with_the_wrong_hash_fails(site):
    models = pytest.importorskip("integrations.models")
    write_config(site, "segmenter: {name: birefnet-general}\n")
    config = load_config(site / "config.yaml")
    path = models.installed_path("birefnet-general", config.models_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an onnx model")
    check = check_model(config)
    assert not check.ok and "MISMATCH" in check.detail.upper()


def test_the_cpu_provider_runs_a_test_inference(site):
    pytest.importorskip("onnxruntime")
    write_config(site, "segmenter: {name: birefnet-general, providers: [cpu]}\n")
    check = check_provider(load_config(site / "config.yaml"))
    assert check.ok and check.detail == "CPUExecutionProvider runs a test inference"


def test_a_gpu_asked_for_but_not_running_fails(site):
    pytest.importorskip("onnxruntime")
    from pipeline.segment.providers import CUDA, provider_runs

    if provider_runs(CUDA):
        pytest.skip("CUDA runs here")
    write_config(site, "segmenter: {name: birefnet-general, providers: [cuda, cpu]}\n")
    check = check_provider(load_config(site / "config.yaml"))
    assert not check.ok and check.detail.startswith("only CPUExecutionProvider runs")
    assert "providers: [cpu]" in check.fix


def test_without_a_model_registry_the_model_check_does_not_apply(site, monkeypatch):
    monkeypatch.setitem(sys.modules, "integrations.models", None)  # import fails
    write_config(site, "segmenter: {name: birefnet-general}\n")
    check = check_model(load_config(site / "config.yaml"))
    assert check.ok and "not applicable" in check.detail


# --------------------------------------------------------------------------- shopify

TOKEN = "shpat_fake_static_token_0123456789"


def shopify_config(site: Path, url: str):
    write_config(site, f"shopify: {{enabled: true, admin_url: '{url}', timeout: 5}}\n")
    return load_config(site / "config.yaml")


def test_shopify_without_credentials_fails_with_the_credential_path(site, monkeypatch, tmp_path):
    monkeypatch.setattr(doctor, "CREDENTIAL_STORE", tmp_path / "nowhere")
    creds, scopes = check_shopify(shopify_config(site, "http://127.0.0.1:9"), environ={})
    assert not creds.ok and "SHOPIFY_ACCESS_TOKEN" in creds.detail
    assert str(tmp_path / "nowhere" / "shopify-token") in creds.fix


@pytest.fixture(scope="module")
def fake_shopify_class():
    pytest.importorskip("graphql")
    from tests.fake_shopify import FakeShopify
    return FakeShopify


@pytest.mark.parametrize("granted, ok", [
    ({"read_products", "write_products", "read_files", "write_files"}, True),
    ({"read_products", "write_products", "read_files"}, False),
])
def test_shopify_scopes_are_read_from_the_admin_api(site, tmp_path, fake_shopify_class, granted, ok):
    creds_dir = tmp_path / "creds"
    creds_dir.mkdir()
    (creds_dir / "shopify-token").write_text(TOKEN + "\n")
    with fake_shopify_class(scopes=granted) as shop:
        creds, scopes = check_shopify(shopify_config(site, shop.url),
                                      environ={"CREDENTIALS_DIRECTORY": str(creds_dir)})
    assert creds.ok and "credential shopify-token" in creds.detail
    assert scopes.ok == ok
    if not ok:
        assert scopes.detail == "missing scopes: write_files"


def test_a_refused_token_fails_the_scopes_check(site, fake_shopify_class):
    with fake_shopify_class() as shop:
        creds, scopes = check_shopify(shopify_config(site, shop.url),
                                      environ={"SHOPIFY_ACCESS_TOKEN": "shpat_wrong_token_000000"})
    assert creds.ok and not scopes.ok and "refused" in scopes.detail


# --------------------------------------------------------------------------- sandbox

def test_parse_unit_properties():
    sandbox = parse_unit_properties("LoadState=loaded\nReadWritePaths=-/srv/booth/inbox /srv/booth/outbox\n"
                                    "StateDirectory=booth\nProtectHome=yes\n")
    assert sandbox == Sandbox((Path("/srv/booth/inbox"), Path("/srv/booth/outbox"), Path("/var/lib/booth")), "yes")
    assert parse_unit_properties("LoadState=not-found\n") is None


def test_sandbox_names_a_folder_missing_from_read_write_paths(tmp_path):
    (tmp_path / "config.yaml").write_text("watch: {paths: [/srv/booth/inbox]}\noutput: {dir: /srv/booth/outbox}\n"
                                          "state_dir: /var/lib/booth\n")
    config = load_config(tmp_path / "config.yaml")
    sandbox = Sandbox((Path("/srv/booth/inbox"), Path("/var/lib/booth")), "yes")
    check = check_sandbox(config, sandbox)
    assert not check.ok and "/srv/booth/outbox" in check.detail and "paths.conf" in check.fix
    assert check_sandbox(config, Sandbox((Path("/srv/booth"), Path("/var/lib/booth")), "yes")).ok


def test_sandbox_hides_home_folders(tmp_path):
    (tmp_path / "config.yaml").write_text("watch: {paths: [/home/shop/Booth]}\noutput: {dir: /srv/outbox}\n"
                                          "state_dir: /var/lib/booth\n")
    check = check_sandbox(load_config(tmp_path / "config.yaml"),
                          Sandbox((Path("/srv"), Path("/var/lib/booth")), "yes"))
    assert not check.ok and "ProtectHome=yes hides /home/shop/Booth" in check.detail


def test_a_crashing_check_is_a_failed_check(site, monkeypatch):
    monkeypatch.setattr(doctor, "check_inotify", lambda *a: 1 / 0)
    check = checks_for(site)["inotify watches"]
    assert not check.ok and "ZeroDivisionError" in check.detail


def test_mount_dataclass_knows_network_types():
    assert Mount(Path("/x"), "smb3", "//a/b").network and not Mount(Path("/x"), "xfs", "/dev/sda").network
    assert {"davfs", "fuse.davfs2", "cifs", "nfs4", "fuse.sshfs"} <= NETWORK_FILESYSTEMS


def test_network_fs_names_the_share_type_or_none():
    mounts = parse_mountinfo(MOUNTINFO)
    assert network_fs(Path("/srv/booth/Booth Drive/Cameras"), mounts) == "cifs"
    assert network_fs(Path("/srv/booth/outbox"), mounts) is None
    assert mount_of(Path("/srv/booth"), []) is None


def test_the_real_mount_table_holds_the_root():
    assert mount_of(Path("/")) is not None  # read from /proc/self/mountinfo


# --------------------------------------------------------------------------- the running daemon

def write_health(site: Path, roots: list[dict], **extra) -> None:
    health = {"pid": os.getpid(), "stopped": False, "roots": roots, **extra}
    (site / "state" / "daemon.json").write_text(json.dumps(health))


def test_a_folder_the_running_daemon_cannot_watch_fails_naming_it_and_why(site):
    write_health(site, [
        {"path": str(site / "inbox"), "ok": True, "observer": "native", "error": None},
        {"path": "/srv/share/Drive", "ok": False, "observer": None, "error": "No such file or directory"}])
    bad, good = check_daemon_roots(load_config(site / "config.yaml"))
    assert bad.status == "failed" and bad.detail == "/srv/share/Drive: No such file or directory"
    assert "mount the share" in bad.fix and "every 5 s" in bad.fix
    assert good.status == "ok" and good.detail == f"{site / 'inbox'} (native)"


@pytest.mark.parametrize("health", [None, {"pid": os.getpid(), "stopped": True, "roots": []},
                                    {"pid": 2**22 + 12345, "stopped": False, "roots": [{"path": "/x", "ok": False}]}])
def test_without_a_running_daemon_the_daemon_check_does_not_apply(site, health):
    if health is not None:
        (site / "state" / "daemon.json").write_text(json.dumps(health))
    (check,) = check_daemon_roots(load_config(site / "config.yaml"))
    assert check.status == "skipped" and "not running" in check.detail


def test_the_doctor_reports_the_daemons_unusable_folders(site):
    write_health(site, [{"path": "/srv/share/Drive", "ok": False, "observer": None, "error": "cannot be read"}])
    found = run_checks(load_config(site / "config.yaml"), user=ME, mounts=[], sandbox=None, environ={})
    assert [c.detail for c in found if c.name == "watched by the daemon"] == ["/srv/share/Drive: cannot be read"]


# --------------------------------------------------------------------------- every segmenter

def test_each_configured_model_is_checked(site):
    write_config(site, "segmenters: {studio: {name: white-studio}, own: {name: custom, path: models/cut.onnx, "
                       "contract: birefnet-general}}\n")
    checks = {c.name: c for c in check_models(load_config(site / "config.yaml"))}
    assert checks["model file"].status == "skipped" and checks["model file (studio)"].status == "skipped"
    own = checks["model file (own)"]
    assert own.status == "failed" and str(site / "models" / "cut.onnx") in own.detail
    assert "segmenters.own.path" in own.fix


def test_a_watch_folder_that_can_be_created_passes_with_create(tmp_path):
    assert check_folder("watch", tmp_path / "new" / "inbox", os.R_OK | os.X_OK, ME, create=True).ok
    assert not check_folder("watch", tmp_path / "new" / "inbox", os.R_OK | os.X_OK, ME).ok
