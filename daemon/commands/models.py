"""booth models list | fetch NAME | verify [NAME]"""

from __future__ import annotations

import sys
from pathlib import Path

from daemon.cli import config_path


def register(sub) -> None:
    p = sub.add_parser("models", help="list, download and verify segmentation models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    def common(parser):
        parser.add_argument("--config", help="config file (default: $BOOTH_CONFIG, ./config.yaml, /etc/booth/...)")
        parser.add_argument("--dir", type=Path, help="models folder (default: the config's models.dir, "
                                                     "else <state_dir>/models)")

    listing = msub.add_parser("list", help="the models booth knows, their licences and what is installed")
    common(listing)
    listing.set_defaults(func=list_command)

    get = msub.add_parser("fetch", help="download a model, check its hash and install it")
    common(get)
    get.add_argument("name")
    get.add_argument("--trust-unverified", action="store_true",
                     help="accept a model with no published hash (its sha256 is recorded and checked from then on)")
    get.set_defaults(func=fetch_command)

    check = msub.add_parser("verify", help="check installed models against their hashes")
    common(check)
    check.add_argument("name", nargs="?", help="one model (default: every installed one)")
    check.set_defaults(func=verify_command)


def _context(args) -> tuple[Path, str | None] | None:
    """(models folder, configured segmenter name) or None after printing why not."""
    from daemon.config import ConfigError, load_config

    if args.dir is not None and args.config is None:
        return args.dir, None
    try:
        config = load_config(config_path(args.config))
    except ConfigError as exc:
        print(f"{exc}\n(or pass --dir FOLDER to work on a models folder without a config)", file=sys.stderr)
        return None
    return (args.dir or config.models_dir), config.segmenter.name


def list_command(args) -> int:
    from integrations import models

    context = _context(args)
    if context is None:
        return 2
    folder, configured = context
    print(f"models folder: {folder}")
    rows = [("NAME", "SIZE", "LICENCE", "COMMERCIAL", "HASH", "INSTALLED", "")]
    for e in models.REGISTRY.values():
        marks = []
        if e.name == models.DEFAULT_MODEL:
            marks.append("recommended")
        if e.name == configured:
            marks.append("configured")
        rows.append((
            e.name, f"~{e.size_mb:g} MB", e.licence,
            {True: "yes", False: "NO", None: "unstated"}[e.commercial_use],
            e.hash.split(":")[0] if e.hash else ("no download" if e.url is None else "unknown"),
            models.installed_state(e, folder), ", ".join(marks)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"execution: {_execution_line()}")
    return 0


def _execution_line() -> str:
    from pipeline.segment.providers import _PROBE_MODEL, open_session

    try:
        _, report = open_session(_PROBE_MODEL, "auto")
    except Exception as exc:  # noqa: BLE001 - a listing must not fail on this
        return f"onnxruntime unusable: {exc}"
    return report.diagnosis or f"{report.active} runs here"


def fetch_command(args) -> int:
    from integrations import models

    context = _context(args)
    if context is None:
        return 2
    folder, _ = context
    try:
        entry = models.entry(args.name)
        if entry.licence_warning:
            print(entry.licence_warning, file=sys.stderr)
        path = models.fetch(entry, folder, trust_unverified=args.trust_unverified)
    except models.ModelError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{entry.name}: installed {path} ({entry.hash or 'sha256 recorded, trusted on first use'})")
    return 0


def verify_command(args) -> int:
    from integrations import models

    context = _context(args)
    if context is None:
        return 2
    folder, _ = context
    if args.name:
        try:
            entries = [models.entry(args.name)]
        except models.ModelError as exc:
            print(exc, file=sys.stderr)
            return 1
    else:
        entries = [e for e in models.REGISTRY.values() if models.installed_path(e.name, folder).is_file()]
        if not entries:
            print(f"no models installed in {folder}")
            return 0
    failed = False
    for e in entries:
        result = models.verify(e, folder)
        print(result.message, file=sys.stdout if result.ok else sys.stderr)
        failed |= not result.ok
    return 1 if failed else 0
