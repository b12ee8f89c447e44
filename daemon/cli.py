"""``booth``: the command line.

The top-level parser comes from ``COMMANDS``, a table of command -> (module,
one-line help), so ``booth --help`` and ``booth --version`` import no command
at all (no numpy, OpenCV, Pillow, ONNX Runtime, httpx or pydantic). Only the
chosen command's module, ``daemon/commands/<module>.py``, is imported; its
``register(subparsers)`` adds that command's own arguments.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

DESCRIPTION = (
    "booth turns the product-photo booth's photos into finished Shopify listing images: it watches the hot "
    "folders, cuts each product out, places it on a clean background with a shadow and the store's branding, "
    "and publishes it to the right product, keeping a journal of every step.")
EPILOG = "Run 'booth COMMAND --help' for a command's options. docs/operations.md describes the daemon."

# command -> (module under daemon/commands/, one-line help). A module may register
# several commands; one it does not (yet) provide is reported when chosen.
COMMANDS: dict[str, tuple[str, str]] = {
    "process": ("images", "finish photos now, without the daemon"),
    "preview": ("images", "original | mask overlay | result, side by side"),
    "eval": ("images", "score the segmenter against ground-truth masks"),
    "config": ("config", "check the configuration: booth config check [PATH]"),
    "run": ("service", "watch the hot folders and process every photo (the daemon)"),
    "status": ("service", "jobs per state, throughput, failures, watch folders and photos not taken"),
    "jobs": ("service", "list jobs, newest first"),
    "job": ("service", "one job's whole story: states with times, outputs, Shopify ids, errors"),
    "retry": ("service", "run retrying or quarantined jobs again now"),
    "reprocess": ("service", "process a photo (or every photo in a folder) again"),
    "restore": ("service", "put back the finished image a reprocess or redo replaced"),
    "review": ("review", "the photos waiting for a person, newest first"),
    "approve": ("review", "publish held cut-outs (exactly once)"),
    "reject": ("review", "set held cut-outs aside, with a reason"),
    "redo": ("review", "run a photo again with changed settings; the result comes back for review"),
    "doctor": ("doctor", "check that this machine is ready to run the daemon"),
    "models": ("models", "list, download and verify segmentation models"),
    "shopify": ("shopify", "the Shopify connection: booth shopify check"),
    "link": ("shopify", "settle a job in needs_review: publish it to this product"),
}

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


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("booth")
    except PackageNotFoundError:
        return "(not installed)"


class _Version(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata is not free)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"booth {version()}")
        parser.exit()


class NotProvided(LookupError):
    """The chosen command is in ``COMMANDS`` but its module does not register it."""


class _Only:
    """The subparsers as a command module sees them: the chosen command's
    parser joins the real ones, the module's other commands go nowhere."""

    def __init__(self, sub, chosen: str) -> None:
        self._sub, self._chosen = sub, chosen
        self._scratch = argparse.ArgumentParser(add_help=False).add_subparsers()

    def add_parser(self, name: str, **kwargs):
        return (self._sub if name == self._chosen else self._scratch).add_parser(name, **kwargs)


def chosen_command(argv: list[str]) -> str | None:
    """The command named in ``argv``: its first word that is not an option
    (the top level's only options, --help and --version, take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: every command listed, the chosen one with its arguments."""
    argv = sys.argv[1:] if argv is None else argv
    chosen = chosen_command(argv)
    parser = argparse.ArgumentParser(prog="booth", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action=_Version, help="print booth's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        if name == chosen:
            importlib.import_module(f"daemon.commands.{module}").register(_Only(sub, name))
            if name not in sub.choices:
                raise NotProvided(f"booth {name}: not available in this build (daemon/commands/{module}.py "
                                  "does not provide it)")
        if name not in sub.choices:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _unknown(command: str) -> str:
    import difflib

    close = difflib.get_close_matches(command, list(COMMANDS), n=1)
    return f"booth: no command {command!r}" + (f" (did you mean {close[0]!r}?)" if close else "") + \
        "; 'booth --help' lists them"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = chosen_command(argv)
    if chosen is not None and chosen not in COMMANDS:
        print(_unknown(chosen), file=sys.stderr)
        return 2
    try:
        parser = build_parser(argv)
    except ImportError as exc:  # the chosen command's module, or what it needs, is missing
        print(f"booth {chosen}: cannot load its code: {exc}", file=sys.stderr)
        return 2
    except NotProvided as exc:
        print(exc, file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`booth jobs --json | head`): stop quietly, as a
        # Unix tool does; point stdout at nothing so the exit flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
