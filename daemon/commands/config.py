"""booth config check [PATH]"""

from __future__ import annotations

import sys

from daemon.cli import config_path
from daemon.config import ConfigError, load_config


def register(sub) -> None:
    p = sub.add_parser("config", help="inspect the configuration")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser("check", help="validate a config file and print what it resolves to")
    check.add_argument("path", nargs="?", help="config file (default: ./config.yaml)")
    check.set_defaults(func=check_command)


def check_command(args) -> int:
    path = config_path(args.path)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{path}: ok")
    print(f"  watch:      {', '.join(str(p) for p in config.watch.paths)}"
          f"{' (polling)' if config.watch.polling else ''}")
    print(f"  output:     {config.output.dir}")
    print(f"  state:      {config.state_dir}")
    print(f"  segmenter:  {config.segmenter.name}")
    print(f"  shopify:    {'on' if config.shopify.enabled else 'off'}")
    for name, cat in config.categories.items():
        p = cat.profile
        print(f"  category {name}: {p.compose.width}x{p.compose.height} {p.encode.format}, "
              f"shadow {p.shadow.mode}, align {p.compose.align}"
              f"{', bar' if p.brand.bar else ''}{', logo' if p.brand.logo else ''}")
    return 0
