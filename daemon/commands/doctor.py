"""booth doctor [--config FILE] [--user NAME]"""

from __future__ import annotations

import sys

from daemon.cli import config_path
from daemon.doctor import Check, User, check_config, run_checks


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check that this machine is ready to run the daemon")
    p.add_argument("--config", metavar="FILE", help="config file (default: ./config.yaml, then /etc/booth/config.yaml)")
    p.add_argument("--user", metavar="NAME",
                   help="check folder permissions for this user (default: booth when it exists, else you)")
    p.set_defaults(func=doctor_command)


def doctor_command(args) -> int:
    path = config_path(args.config)
    first, config = check_config(path)
    checks = [first]
    if config is not None:
        try:
            user = User.named(args.user)
        except KeyError:
            print(f"booth doctor: no user named {args.user!r}", file=sys.stderr)
            return 2
        checks += run_checks(config, user=user)
    for check in checks:
        print(render(check))
    bad = sum(not c.ok for c in checks)
    print(f"{len(checks) - bad} passed, {bad} failed" if bad else f"all {len(checks)} checks passed")
    return 1 if bad else 0


def render(check: Check) -> str:
    """One line: a tick or a cross, what was checked, what was found, and the fix."""
    line = f"{'✓' if check.ok else '✗'} {check.name}: {check.detail}"
    if check.fix and not check.ok:
        line += f"  -> fix: {check.fix}"
    return " ".join(line.splitlines())  # one check, one line, whatever an error message holds
