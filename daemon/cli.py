"""``booth``: the command line. Each group of commands lives in
``daemon/commands/<module>.py`` and registers itself with ``register``."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

COMMAND_MODULES = ("images", "config", "service", "doctor", "models", "shopify")

DEFAULT_CONFIG = "config.yaml"


def config_path(value: str | None) -> Path:
    """--config, else $BOOTH_CONFIG, else ./config.yaml, else /etc/booth/config.yaml."""
    import os

    if value:
        return Path(value)
    if os.environ.get("BOOTH_CONFIG"):
        return Path(os.environ["BOOTH_CONFIG"])
    local = Path(DEFAULT_CONFIG)
    if local.exists() or not Path("/etc/booth/config.yaml").exists():
        return local
    return Path("/etc/booth/config.yaml")


def load_or_report(path: str | None):
    """The config named on the command line (see ``config_path``), or None
    after printing why it is unusable; commands then exit with status 2."""
    from daemon.config import ConfigError, load_config

    try:
        return load_config(config_path(path))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="booth", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"daemon.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
