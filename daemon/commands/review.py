"""booth review / approve / reject / redo: the review page's twins on the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from daemon.cli import load_or_report


def register(sub) -> None:
    p = sub.add_parser("review", help="the photos waiting for a person, newest first")
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=review_command)

    p = sub.add_parser("approve", help="publish held cut-outs (exactly once)")
    p.add_argument("jobs", metavar="JOB", nargs="+", type=int)
    p.add_argument("--config")
    p.set_defaults(func=approve_command)

    p = sub.add_parser("reject", help="set held cut-outs aside, with a reason")
    p.add_argument("jobs", metavar="JOB", nargs="+", type=int)
    p.add_argument("--reason", required=True, help="why (kept in the job's history)")
    p.add_argument("--config")
    p.set_defaults(func=reject_command)

    p = sub.add_parser("redo", help="run a photo again with changed settings; the result comes back for review")
    p.add_argument("job", metavar="JOB", type=int)
    p.add_argument("--set", dest="settings", metavar="KEY=VALUE", action="append", default=[],
                   help="e.g. white_studio.hard_shadows=true, refine.choke_px=1.5, refine.feather_px=1, "
                        "shadow.mode=none, segmenter=LABEL (repeatable)")
    p.add_argument("--config")
    p.set_defaults(func=redo_command)


def _desk(args, *, readonly: bool = False):
    from daemon.commands.service import _open_journal
    from daemon.review import ReviewDesk

    config = load_or_report(args.config)
    if config is None:
        return None, 2
    journal = _open_journal(config, readonly=readonly)
    if journal is None:
        return None, 1
    return ReviewDesk(config, journal), 0


def review_command(args) -> int:
    desk, status = _desk(args, readonly=True)
    if desk is None:
        return status
    try:
        jobs = desk.waiting(args.limit)
    finally:
        desk.journal.close()
    if args.json:
        import json
        print(json.dumps([{"job_id": j.id, "path": j.path, "name": Path(j.path).name, "category": j.category,
                           "product": j.product_key, "view": j.view, "kind": j.review_kind,
                           "confidence": j.confidence, "reasons": j.reasons or ([j.error] if j.error else []),
                           "output": j.output} for j in jobs], indent=2, default=str))
        return 0
    if not jobs:
        print("nothing is waiting for review")
        return 0
    for j in jobs:
        conf = f"{j.confidence:.2f}" if j.confidence is not None else "-"
        what = "look at the cut-out" if j.review_kind == "cutout" else "no product matched (booth link)"
        print(f"{j.id:>6}  {Path(j.path).name}  {j.category or 'default'}/{j.product_key or '-'}  "
              f"confidence {conf}  {what}")
        for reason in (j.reasons if j.review_kind == "cutout" else [j.error or ""]):
            if reason:
                print(f"        - {reason}")
    return 0


def _report(decisions) -> int:
    failed = 0
    for d in decisions:
        print(d.message, file=sys.stdout if d.ok else sys.stderr)
        failed += not d.ok
    return 1 if failed else 0


def approve_command(args) -> int:
    from daemon.review import actor_here

    desk, status = _desk(args)
    if desk is None:
        return status
    try:
        return _report(desk.approve(args.jobs, actor_here()))
    finally:
        desk.journal.close()


def reject_command(args) -> int:
    from daemon.review import actor_here

    desk, status = _desk(args)
    if desk is None:
        return status
    try:
        return _report(desk.reject(args.jobs, args.reason, actor_here()))
    finally:
        desk.journal.close()


def redo_command(args) -> int:
    from daemon.review import actor_here
    from daemon.runner import BadOverride, parse_settings

    try:
        settings = parse_settings(args.settings)
    except BadOverride as exc:
        print(exc, file=sys.stderr)
        return 2
    desk, status = _desk(args)
    if desk is None:
        return status
    try:
        return _report([desk.redo(args.job, settings, actor_here())])
    finally:
        desk.journal.close()
