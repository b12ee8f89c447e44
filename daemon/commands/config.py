"""booth config check [PATH]"""

from __future__ import annotations

import sys

from daemon.cli import config_path

# Exit status: the config cannot be used / it loads but something it points to is not ready / ok.
INVALID, WARNINGS, OK = 2, 1, 0


def register(sub) -> None:
    p = sub.add_parser("config", help="inspect the configuration")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser("check", help="validate a config file and print what it resolves to; exit status 2: "
                                          "invalid, 1: valid with warnings, 0: ok")
    check.add_argument("path", nargs="?", help="config file (default: ./config.yaml)")
    check.set_defaults(func=check_command)


def check_command(args) -> int:
    from daemon.config import ConfigError, config_findings, load_config

    path = config_path(args.path)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"{path}: invalid config", file=sys.stderr)
        for finding in exc.findings:
            print(finding, file=sys.stderr)
        return INVALID
    findings = config_findings(config)
    warnings = sum(f.level == "warning" for f in findings)
    print(f"{path}: {'ok' if not warnings else f'valid, {warnings} warning' + 's' * (warnings > 1)}")
    print(f"  watch:      {', '.join(str(p) for p in config.watch.paths)}"
          f"{' (polling)' if config.watch.polling else ''}")
    print(f"  output:     {config.output.dir}")
    print(f"  state:      {config.state_dir}")
    print(f"  segmenter:  {config.segmenter.name}"
          + "".join(f", {label}: {s.name}" for label, s in config.segmenters.items()))
    print(f"  shopify:    {'on' if config.shopify.enabled else 'off'}")
    review = config.review
    print(f"  review:     {f'{review.host}:{review.port}' if review.enabled else 'off'}")
    for name, cat in config.categories.items():
        p = cat.profile
        print(f"  category {name}: {p.compose.width}x{p.compose.height} {p.encode.format}, "
              f"shadow {p.shadow.mode}, align {p.compose.align}"
              f"{', bar' if p.brand.bar else ''}{', logo' if p.brand.logo else ''}"
              f", review {cat.review.mode}"
              f"{f', segmenter {cat.segmenter}' if cat.segmenter != 'default' else ''}")
    for finding in findings:
        print(finding)
    return WARNINGS if warnings else OK
