"""``booth doctor``: is this machine ready to run the daemon?

Each check is a small function returning a ``Check``: what was looked at, ok or
not, what was found, and the command that fixes it. Checks never raise; an
unexpected error is itself a failed check. Checks that depend on a part the
configuration does not use (a model with the white-studio segmenter, Shopify
when publishing is off) are skipped, and say why.

Folder permissions are checked for the service user (``booth`` when that user
exists), not for whoever runs the doctor: run it with sudo to check exactly.
"""

from __future__ import annotations

import grp
import importlib
import json
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from daemon.config import Config, ConfigError, config_findings, load_config
from daemon.mounts import Mount, mount_of, read_mounts

SERVICE_USER = "booth"
SERVICE_UNIT = "booth.service"
# Where the unit's LoadCredential= reads the Shopify token from (see systemd/booth.service).
CREDENTIAL_STORE = Path("/etc/booth/credentials")
REQUIRED_SCOPES = frozenset({"read_products", "write_products", "read_files", "write_files"})
MIN_FREE_BYTES = 2 * 1024**3
# What the running daemon writes about itself (daemon/service.py, HEALTH_FILE), under state_dir.
HEALTH_FILE = "daemon.json"
# The install docs' layout (docs/install.md): the GPU extra brings CUDA 13 and cuDNN 9.
REINSTALL = "sudo /opt/booth/.venv/bin/pip install '/opt/booth[gpu]'"
INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_watches")
INOTIFY_HEADROOM = 0.8  # product folders accumulate: fail before the limit, not at it


Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        """Nothing to fix: passed, or skipped because it does not apply."""
        return self.status != "failed"


def passed(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def failed(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, "failed", detail, fix)


def skipped(name: str, detail: str) -> Check:
    """A check that does not apply here; ``detail`` says why."""
    return Check(name, "skipped", detail)


# --------------------------------------------------------------------------- config

def check_config(path: Path) -> tuple[list[Check], Config | None]:
    """The config loads (one failed check per problem), then what
    ``config_findings`` warns about that the other checks do not look at."""
    fix = f"edit {path}, then: booth config check {path}"
    try:
        config = load_config(path)
    except ConfigError as exc:
        return [failed("config", f"{f.key}: {f.message}" if f.key else f.message, fix) for f in exc.findings], None
    warnings = [failed("config", f"{f.key}: {f.message}", f.fix or fix)
                for f in config_findings(config, folders=False, models=False) if f.level != "note"]
    return [passed("config", f"{path} is valid"), *warnings], config


# --------------------------------------------------------------------------- folders

@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    group: str
    gids: frozenset[int]

    @classmethod
    def named(cls, name: str | None = None) -> User:
        """``name``, else the service user when it exists, else whoever runs this."""
        if name is None:
            try:
                return cls.named(SERVICE_USER)
            except KeyError:
                name = pwd.getpwuid(os.geteuid()).pw_name
        entry = pwd.getpwnam(name)
        try:
            group = grp.getgrgid(entry.pw_gid).gr_name
        except KeyError:
            group = str(entry.pw_gid)
        return cls(name, entry.pw_uid, entry.pw_gid, group, frozenset(os.getgrouplist(name, entry.pw_gid)))


ACCESS_WORDS = {os.R_OK | os.X_OK: "readable", os.R_OK | os.W_OK | os.X_OK: "writable"}


def may_access(path: Path, user: User, mode: int) -> bool:
    """Whether ``user`` may access ``path`` with ``mode`` (os.R_OK | os.W_OK | os.X_OK)."""
    if user.uid == os.geteuid():
        return os.access(path, mode)
    if os.geteuid() == 0:
        # Exact (ACLs, read-only mounts): ask the kernel as that user.
        flags = [f for bit, f in ((os.R_OK, "-r"), (os.W_OK, "-w"), (os.X_OK, "-x")) if mode & bit]
        script = " && ".join(f'test {f} "$0"' for f in flags)
        done = subprocess.run(["sh", "-c", script, str(path)], user=user.uid,
                              group=user.gid, extra_groups=sorted(user.gids),
                              capture_output=True, check=False)
        return done.returncode == 0
    return _mode_allows(path.stat(), user, mode) and not (mode & os.W_OK and _read_only_mount(path))


def _mode_allows(st: os.stat_result, user: User, mode: int) -> bool:
    # Without root the kernel cannot be asked on another user's behalf: read the mode bits.
    shift = 6 if st.st_uid == user.uid else 3 if st.st_gid in user.gids else 0
    granted = (st.st_mode >> shift) & 0o7
    return granted & mode == mode


def _read_only_mount(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def check_folder(role: str, path: Path, mode: int, user: User, *, create: bool = False) -> Check:
    """``path`` exists, is a folder, and ``user`` may read (or write) it.
    ``create``: a missing folder passes when ``user`` may create it (the
    daemon creates its watch folders at start)."""
    name = f"{role} folder"
    owner = f"{user.name}:{user.group}"
    if not path.exists():
        fix = f"sudo install -d -o {user.name} -g {user.group} {path}"
        if not create:
            return failed(name, f"{path} does not exist", fix)
        parent = _existing_parent(path)
        if parent.is_dir() and _allowed(parent, user, os.W_OK | os.X_OK):
            return passed(name, f"{path} does not exist yet: it is created at start")
        return failed(name, f"{path} does not exist and cannot be created by {user.name} "
                            f"({parent} is not {'writable' if parent.is_dir() else 'a folder'})", fix)
    if not path.is_dir():
        return failed(name, f"{path} is not a folder", f"point the config at a folder, or move {path} away")
    want = ACCESS_WORDS.get(mode, "accessible")
    try:
        allowed = may_access(path, user, mode)
    except OSError as exc:
        return failed(name, f"{path}: cannot check access: {exc}", f"sudo booth doctor --user {user.name}")
    if allowed:
        return passed(name, f"{path} is {want} by {user.name}")
    st = path.stat()
    found = f"owner {_owner(st)}, mode {stat.filemode(st.st_mode)}"
    if mode & os.W_OK and _read_only_mount(path):
        return failed(name, f"{path} is on a read-only mount", f"remount {path} read-write")
    fix = (f"sudo chown {owner} {path}" if mode & os.W_OK
           else f"sudo chgrp {user.group} {path} && sudo chmod g+rx {path}")
    return failed(name, f"{path} is not {want} by {user.name} ({found})", fix)


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")


def _allowed(path: Path, user: User, mode: int) -> bool:
    try:
        return may_access(path, user, mode)
    except OSError:
        return False


def _owner(st: os.stat_result) -> str:
    try:
        return f"{pwd.getpwuid(st.st_uid).pw_name}:{grp.getgrgid(st.st_gid).gr_name}"
    except KeyError:
        return f"{st.st_uid}:{st.st_gid}"


def folder_checks(config: Config, user: User) -> list[Check]:
    read, write = os.R_OK | os.X_OK, os.R_OK | os.W_OK | os.X_OK
    # Archiving or deleting originals needs a writable watch folder. Quarantine
    # moves them out too, but leaves them in place where it cannot: a read-only
    # share still works.
    watch_mode = read if config.after_success == "keep" else write
    checks = [check_folder("watch", p, watch_mode, user) for p in config.watch.paths]
    checks += [check_folder("output", config.output.dir, write, user),
               check_folder("state", config.state_dir, write, user),
               check_folder("quarantine", config.quarantine, write, user)]
    if config.after_success == "archive":
        checks.append(check_folder("archive", config.archive_dir, write, user))
    return checks


# --------------------------------------------------------------------------- mounts
# The mount table is daemon.mounts (the watcher reads the same one).

def check_network_watch(config: Config, mounts: list[Mount]) -> Check:
    name = "network shares"
    shared = [(p, m) for p in config.watch.paths if (m := mount_of(p, mounts)) and m.network]
    if not shared:
        return passed(name, "no watch folder is on a network share")
    where = ", ".join(f"{p} ({m.fstype} {m.source})" for p, m in shared)
    if config.watch.polling:
        return passed(name, f"polled: {where}")
    return failed(name, f"{where}: inotify misses files other machines write there",
                  f"set 'watch: {{polling: true}}' in {config.source or 'the config'}")


def check_state_local(config: Config, mounts: list[Mount]) -> Check:
    name = "state on local disk"
    mount = mount_of(config.state_dir, mounts)
    if mount and mount.network:
        return failed(name, f"{config.state_dir} is on {mount.fstype} {mount.source}: "
                            "the SQLite journal (WAL) needs a local disk",
                      "point state_dir at a local folder, e.g. /var/lib/booth")
    return passed(name, f"{config.state_dir} is local")


def check_inotify(config: Config, mounts: list[Mount], limit_file: Path = INOTIFY_LIMIT) -> Check:
    """One inotify watch per folder: the folders under the (non-polled) watch
    paths must fit well inside ``fs.inotify.max_user_watches``."""
    name = "inotify watches"
    if config.watch.polling:
        return skipped(name, "not applicable: watch.polling is on")
    try:
        limit = int(limit_file.read_text().strip())
    except (OSError, ValueError):
        return skipped(name, f"not applicable: {limit_file} unreadable")
    roots = [p for p in config.watch.paths
             if p.is_dir() and not ((m := mount_of(p, mounts)) and m.network)]
    budget = int(limit * INOTIFY_HEADROOM)
    count = count_folders(roots, stop_after=budget + 1)
    if count > budget:
        more = max(524288, limit * 4)
        return failed(name, f"at least {count} folders to watch, "
                            f"limit {limit} (keep under {INOTIFY_HEADROOM:.0%})",
                      f"echo fs.inotify.max_user_watches={more} | sudo tee /etc/sysctl.d/60-booth.conf "
                      "&& sudo sysctl --system")
    return passed(name, f"{count} folders to watch, limit {limit}")


def count_folders(roots: Iterable[Path], stop_after: int) -> int:
    """Folders under ``roots`` (roots included), counting no further than ``stop_after``."""
    count = 0
    for root in roots:
        for _dirpath, _dirs, _files in os.walk(root):
            count += 1
            if count >= stop_after:
                return count
    return count


# --------------------------------------------------------------------------- disk

def check_free_space(role: str, path: Path, min_free: int = MIN_FREE_BYTES) -> Check:
    name = f"free space ({role})"
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return skipped(name, f"not applicable: {path} does not exist yet")
    if free < min_free:
        return failed(name, f"{path}: {_gib(free)} free, under {_gib(min_free)}",
                      f"free space on the disk holding {path} (du -sh {path}/*), or move it")
    return passed(name, f"{path}: {_gib(free)} free")


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB"


# --------------------------------------------------------------------------- model
# The model code is imported only when a model is configured, so the doctor
# runs (and its other checks hold) on a machine without it.

def check_models(config: Config) -> list[Check]:
    """``check_model`` for every configured segmenter (the default one and each of ``segmenters``)."""
    return [check_model(config, label) for label in config.segmenter_configs()]


def check_model(config: Config, label: str = "default") -> Check:
    """The model file is present and, for a built-in model, matches the registry's
    hash, checked the way the daemon checks it at start:
    ``integrations.models.resolver(models_dir)(name) -> Path`` raises when the
    file is missing, unverifiable or its hash differs."""
    name = "model file" if label == "default" else f"model file ({label})"
    key = "segmenter" if label == "default" else f"segmenters.{label}"
    seg = config.segmenter_configs()[label]
    if seg.name == "white-studio":
        return skipped(name, "not applicable: the white-studio segmenter needs no model")
    if seg.path is not None:
        if Path(seg.path).is_file():
            return passed(name, f"{seg.path} (a file of its own: no registry hash to check)")
        return failed(name, f"{seg.path} does not exist", f"copy the .onnx file there, or fix {key}.path")
    resolver = _optional("integrations.models", "resolver")
    if resolver is None:
        return skipped(name, "not applicable: this build has no model registry")
    try:
        path = resolver(config.models_dir)(seg.name)
    except Exception as exc:  # the registry's ModelError, or a file it cannot read
        message = str(exc) if str(exc).startswith(seg.name) else f"{seg.name}: {exc}"
        return failed(name, message, f"sudo -u {SERVICE_USER} booth models fetch {seg.name}")
    return passed(name, f"{seg.name}: {path} (hash ok)")


def check_provider(config: Config) -> Check:
    """The configured execution provider really runs: a tiny inference on it
    (``pipeline.segment.providers.provider_runs``). onnxruntime-gpu falls back
    to the CPU silently when CUDA or cuDNN is missing; this is where that shows.
    A GPU that was asked for but does not run fails, even under ``auto``: on
    the CPU a photo takes seconds instead of a fraction of one."""
    name = "execution provider"
    # The default segmenter's providers, or those of the first model a category uses.
    seg = next((s for s in config.segmenter_configs().values() if s.is_onnx), None)
    if seg is None:
        return skipped(name, "not applicable: the white-studio segmenter runs on the CPU")
    try:
        providers = importlib.import_module("pipeline.segment.providers")
    except ImportError:
        return skipped(name, "not applicable: this build has no provider probe")
    wanted = providers.AUTO_ORDER if seg.providers == "auto" else tuple(seg.providers)
    try:
        running = next((p for p in wanted if providers.provider_runs(p)), None)
        _plan, not_started = providers.plan_providers(seg.providers)
    except Exception as exc:  # onnxruntime itself missing or broken
        return failed(name, f"cannot run onnxruntime: {exc}", f"reinstall: {REINSTALL}")
    gpu_wanted = [p for p in wanted if p in providers.GPU_PROVIDERS]
    if running is None or (gpu_wanted and running not in providers.GPU_PROVIDERS):
        reason = next((not_started[p] for p in (providers.CUDA, providers.TENSORRT) if p in not_started),
                      "the GPU provider did not start")
        reason, _, fix = reason.partition("; fix: ")
        where = f"only {running} runs" if running else "nothing runs"
        fix = fix or f"nvidia-smi (driver 580 or newer), then the CUDA 13 and cuDNN 9 libraries: {REINSTALL}"
        return failed(name, f"{where}: {reason}", f"{fix}; or accept the CPU with 'segmenter: {{providers: [cpu]}}'")
    return passed(name, f"{running} runs a test inference")


def _optional(module: str, attr: str):
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


# --------------------------------------------------------------------------- shopify

def shopify_environ(environ: Mapping[str, str] = os.environ) -> Mapping[str, str]:
    """The environment the daemon sees under systemd: outside the service, the
    credential store the unit loads from stands in for $CREDENTIALS_DIRECTORY."""
    if environ.get("CREDENTIALS_DIRECTORY") or not os.access(CREDENTIAL_STORE, os.R_OK | os.X_OK):
        return environ
    return {**environ, "CREDENTIALS_DIRECTORY": str(CREDENTIAL_STORE)}


def check_shopify(config: Config, environ: Mapping[str, str] = os.environ) -> list[Check]:
    """Credentials present, accepted by the Admin API, and granting every scope
    publishing needs (one query: ``currentAppInstallation.accessScopes``)."""
    names = ("shopify credentials", "shopify scopes")
    if not config.shopify.enabled:
        return [skipped(n, "not applicable: shopify.enabled is false") for n in names]
    try:
        from integrations.shopify.auth import token_source
        from integrations.shopify.client import AdminClient
        from integrations.shopify.errors import PublishError
    except ImportError:
        return [skipped(n, "not applicable: this build has no Shopify client") for n in names]
    import httpx

    from daemon.logging import register_secret

    # One attempt, no retries: the doctor answers now rather than in two minutes.
    shop = config.shopify.model_copy(update={"max_retries": 0})
    with httpx.Client(timeout=min(shop.timeout, 15.0)) as http:
        try:
            auth = token_source(shop, http=http, on_secret=register_secret, environ=shopify_environ(environ))
        except PublishError as exc:
            target = CREDENTIAL_STORE / shop.token_credential
            return [failed(names[0], str(exc),
                           f"sudo install -d -m 700 {CREDENTIAL_STORE} && sudo install -m 600 /dev/stdin "
                           f"{target} (paste the shpat_ token, then Ctrl-D; run the doctor with sudo to read it)"),
                    skipped(names[1], "not checked: no credentials")]
        creds = passed(names[0], f"token from {getattr(auth, 'source', 'the client-credentials grant')}")
        try:
            data = AdminClient(shop, auth, http=http).execute(SCOPES_QUERY)
        except PublishError as exc:
            return [creds, failed(names[1], f"the Admin API refused: {exc}",
                                  "check shopify.shop and the token in the Shopify admin (Settings > Apps)")]
    granted = {s.get("handle") for s in ((data.get("currentAppInstallation") or {}).get("accessScopes") or [])}
    missing = sorted(REQUIRED_SCOPES - granted)
    if missing:
        return [creds, failed(names[1], f"missing scopes: {', '.join(missing)}",
                              "grant them to the app in the Shopify admin, then reinstall the app")]
    return [creds, passed(names[1], f"granted: {', '.join(sorted(REQUIRED_SCOPES))}")]


SCOPES_QUERY = "query { currentAppInstallation { accessScopes { handle } } }"


# --------------------------------------------------------------------------- sandbox

@dataclass(frozen=True)
class Sandbox:
    """What the installed unit lets the service write and see."""

    writable: tuple[Path, ...]
    protect_home: str


def parse_unit_properties(text: str) -> Sandbox | None:
    """``systemctl show`` output -> the sandbox, or None when the unit is not installed."""
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if props.get("LoadState") != "loaded":
        return None
    writable = [Path(p.lstrip("-+")) for p in props.get("ReadWritePaths", "").split()]
    writable += [Path("/var/lib") / d for d in props.get("StateDirectory", "").split()]
    return Sandbox(tuple(writable), props.get("ProtectHome", "no"))


def read_sandbox(unit: str = SERVICE_UNIT) -> Sandbox | None:
    if shutil.which("systemctl") is None:
        return None
    try:
        done = subprocess.run(["systemctl", "show", unit, "--property=LoadState,ReadWritePaths,"
                               "StateDirectory,ProtectHome"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_unit_properties(done.stdout) if done.returncode == 0 else None


def check_sandbox(config: Config, sandbox: Sandbox | None) -> Check:
    """Under ProtectSystem=strict the service writes only where the unit says."""
    name = "service sandbox"
    if sandbox is None:
        return skipped(name, f"not applicable: {SERVICE_UNIT} is not installed here")
    # Watched folders too: quarantined (and archived or deleted) originals leave them.
    written = [config.output.dir, config.state_dir, config.quarantine, *config.watch.paths]
    if config.after_success == "archive":
        written.append(config.archive_dir)
    blocked = [p for p in written if not _under(p, sandbox.writable)]
    homes = (Path("/home"), Path("/root"), Path("/run/user"))
    hidden = [p for p in [*written, *config.watch.paths]
              if sandbox.protect_home != "no" and _under(p, homes)]
    if hidden:
        return failed(name, f"ProtectHome={sandbox.protect_home} hides {', '.join(map(str, hidden))}",
                      "move the folders out of /home, or set ProtectHome=tmpfs with BindPaths= in "
                      "/etc/systemd/system/booth.service.d/paths.conf")
    if blocked:
        return failed(name, f"not in ReadWritePaths=: {', '.join(map(str, blocked))}",
                      "add them to /etc/systemd/system/booth.service.d/paths.conf, then "
                      "sudo systemctl daemon-reload && sudo systemctl restart booth")
    return passed(name, "every folder the service writes is in ReadWritePaths=")


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


# --------------------------------------------------------------------------- the running daemon

def check_daemon_roots(config: Config) -> list[Check]:
    """The watch folders as the running daemon sees them: ``state_dir/daemon.json``
    lists ``roots`` as {"path", "ok", "observer", "error"}. A folder it cannot
    watch (a share not mounted, a folder it may not read) fails, naming it and why."""
    name = "watched by the daemon"
    health_file = Path(config.state_dir) / HEALTH_FILE
    try:
        health = json.loads(health_file.read_text())
    except FileNotFoundError:
        return [skipped(name, f"not applicable: the daemon is not running ({health_file} does not exist)")]
    except (OSError, ValueError) as exc:
        return [skipped(name, f"not applicable: {health_file} cannot be read ({exc})")]
    if not isinstance(health, dict) or health.get("stopped") or not _alive(health.get("pid")):
        return [skipped(name, f"not applicable: the daemon is not running (as {health_file} says)")]
    roots = [r for r in health.get("roots") or () if isinstance(r, dict)]
    if not roots:
        return [skipped(name, "not applicable: the running daemon does not report its folders")]
    checks = [failed(name, f"{r.get('path')}: {r.get('error') or 'not watched'}",
                     f"create it or mount the share, readable by {SERVICE_USER} (ls -ld {r.get('path')}); "
                     f"the daemon looks again every {config.watch.root_check_seconds:g} s")
              for r in roots if not r.get("ok")]
    watched = [f"{r.get('path')} ({r.get('observer') or 'watched'})" for r in roots if r.get("ok")]
    if watched:
        checks.append(passed(name, ", ".join(watched)))
    return checks


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and another user's (the service's)
        return True
    return True


# --------------------------------------------------------------------------- all

INSTALLED = object()  # run_checks(sandbox=...): read the installed unit


def run_checks(config: Config, *, user: User | None = None, mounts: list[Mount] | None = None,
               sandbox: Sandbox | None | object = INSTALLED,
               environ: Mapping[str, str] = os.environ) -> list[Check]:
    """Every check after the config's own, in the order an operator fixes them.
    Tests pass ``mounts`` and ``sandbox`` (a ``Sandbox``, or None for no unit)."""
    user = user or User.named()
    mounts = read_mounts() if mounts is None else mounts
    sandbox = read_sandbox() if sandbox is INSTALLED else sandbox
    steps = [
        ("folders", lambda: folder_checks(config, user)),
        ("watched by the daemon", lambda: check_daemon_roots(config)),
        ("service sandbox", lambda: check_sandbox(config, sandbox)),
        ("network shares", lambda: check_network_watch(config, mounts)),
        ("state on local disk", lambda: check_state_local(config, mounts)),
        ("inotify watches", lambda: check_inotify(config, mounts)),
        ("free space (output)", lambda: check_free_space("output", config.output.dir)),
        ("free space (state)", lambda: check_free_space("state", config.state_dir)),
        ("model file", lambda: check_models(config)),
        ("execution provider", lambda: check_provider(config)),
        ("shopify", lambda: check_shopify(config, environ)),
    ]
    return [check for name, step in steps for check in _guarded(name, step)]


def _guarded(name: str, step) -> list[Check]:
    """A check that crashes is a failed check, not a crashed doctor."""
    try:
        result = step()
    except Exception as exc:  # noqa: BLE001 - any failure is reported the same way
        return [failed(name, f"the check itself failed: {type(exc).__name__}: {exc}")]
    return result if isinstance(result, list) else [result]
