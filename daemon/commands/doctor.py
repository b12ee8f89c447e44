"""booth doctor [--config FILE] [--user NAME]"""

from __future__ import annotations

import sys

from daemon.cli import config_path

MARKS = {"ok": "✓", "failed": "✗", "skipped": "-"}


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check that this machine is ready to run the daemon")
    p.add_argument("--config", metavar="FILE", help="config file (default: ./config.yaml, then /etc/booth/config.yaml)")
    p.add_argument("--user", metavar="NAME",
                   help="check folder permissions for this user (default: booth when it exists, else you)")
    p.set_defaults(func=doctor_command)


def doctor_command(args) -> int:
    from daemon.doctor import User, check_config, run_checks

    path = config_path(args.config)
    checks, config = check_config(path)
    if config is not None:
        try:
            user = User.named(args.user)
        except KeyError:
            print(f"booth doctor: no user named {args.user!r}", file=sys.stderr)
            return 2
        checks += run_checks(config, user=user)
    for check in checks:
        print(render(check))
    bad = sum(c.status == "failed" for c in checks)
    done = sum(c.status == "ok" for c in checks)
    skipped = len(checks) - bad - done
    tail = f", {skipped} not applicable" if skipped else ""
    print(f"{done} passed, {bad} failed{tail}" if bad else f"all {done} checks passed{tail}")
    return 1 if bad else 0


def render(check) -> str:
    """One line: a tick, a cross or a dash (does not apply), what was checked,
    what was found, and the fix."""
    line = f"{MARKS[check.status]} {check.name}: {check.detail}"
    if check.fix and check.status == "failed":
        line += f"  -> fix: {check.fix}"
    return " ".join(line.splitlines())  # one check, one line, whatever an error message holds
