"""The review page: a Starlette app over the review desk.

URL layout (every state change is a POST through the guard; GET changes nothing)::

    GET  /                         the photos waiting for a person, newest first
    GET  /job/{id}                 one photo at full size, with its history
    GET  /img/{id}/{kind}          its thumbnail (kind: original | mask | result)
    GET  /img/{id}/{kind}/large    the same at full size
    GET  /dashboard                counts, throughput, failures, watchers (polls /dashboard/live)
    GET  /gallery                  the images published last, each with a Redo
    POST /job/{id}/approve | /job/{id}/reject (reason) | /job/{id}/redo (settings)
    GET  /login, POST /login, POST /logout   (only when a token is set)
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from daemon.journal import JournalError, ReviewKind, State
from daemon.logging import get_logger
from daemon.review import KINDS, Decision, ReviewDesk
from daemon.web.access import Access
from daemon.web.guard import Guard
from daemon.web.shown import Shown, folders_of

STATIC = Path(__file__).parent / "static"
STATE_ORDER = ("waiting", "grouping", "processing", "publishing", "retrying", "needs_review", "done", "rejected",
               "quarantined")
STATE_LABELS = {"waiting": "waiting", "grouping": "waiting for its other views", "processing": "processing",
                "publishing": "publishing", "done": "done", "retrying": "retrying", "quarantined": "quarantined",
                "needs_review": "needs review", "rejected": "rejected"}
ON_THEIR_WAY = (State.WAITING, State.PROCESSING, State.PUBLISHING, State.RETRYING)
BACK = {"waiting": "/", "gallery": "/gallery"}
NOTES_KEPT = 256
_TITLES = {404: "Not here", 401: "Sign in", 403: "Refused", 405: "Not allowed", 421: "Wrong address"}

log = get_logger("review.page")


class Notes:
    """What the last decisions said, shown once the browser lands on the next page."""

    def __init__(self) -> None:
        self._notes: OrderedDict[str, list[dict]] = OrderedDict()

    def keep(self, decisions: list[Decision]) -> str:
        key = secrets.token_urlsafe(9)
        self._notes[key] = [{"ok": d.ok, "message": d.message, "job_id": d.job_id} for d in decisions]
        while len(self._notes) > NOTES_KEPT:
            self._notes.popitem(last=False)
        return key

    def get(self, key: str | None) -> list[dict]:
        return list(self._notes.get(key or "", ()))


class Pages:
    """The page's views, configured once: the desk, the access rules, the templates."""

    def __init__(self, desk: ReviewDesk, access: Access, health: Callable[[], Mapping[str, Any]],
                 clock: Callable[[], float] = time.time) -> None:
        self.desk = desk
        self.access = access
        self._health = health
        self.shown = Shown(folders_of(desk.config), clock)
        self.notes = Notes()
        self.env = Environment(loader=PackageLoader("daemon.web", "templates"), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(shown=self.shown.text, ago=self.shown.ago, when=self.shown.when)

    # ------------------------------------------------------------------ rendering

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        notes = self.notes.get(request.query_params.get("note"))
        html = self.env.get_template(template).render(
            csrf=request.state.csrf, needs_login=self.access.needs_login, signed_in=request.state.signed_in,
            path=request.url.path, notes=notes, **context)
        return HTMLResponse(html, status_code=status)

    def refusal(self, status: int, message: str, csrf: str) -> str:
        return self.env.get_template("error.html").render(
            csrf=csrf, needs_login=self.access.needs_login, signed_in=False, path="", notes=[], code=status,
            title=_TITLES.get(status, "Refused"), nav="", message=message)

    def card(self, job) -> dict[str, Any]:
        """One job as the templates show it: names, never paths."""
        shown = self.shown.text
        reasons = list(job.reasons) if job.review_kind != ReviewKind.PRODUCT else []
        if not reasons and job.error:
            reasons = [job.error]
        thumbs = {kind: self.desk.thumbnails.path(job.id, kind) is not None for kind in KINDS}
        return {"id": job.id, "name": self.shown.name(job.path), "rel": shown(job.rel or ""),
                "category": job.category or "default", "product": job.product_key or "", "view": job.view or "",
                "state": str(job.state), "state_label": STATE_LABELS.get(str(job.state), str(job.state)),
                "kind": str(job.review_kind) if job.review_kind else "",
                "confidence": job.confidence, "reasons": [shown(r) for r in reasons],
                "error": shown(job.error or ""), "approved": job.approved,
                "overrides": {k: v for k, v in job.overrides.items()},
                "thumbs": thumbs, "version": int((job.updated_at or 0) * 1000) % 10**9,
                "created_at": job.created_at, "finished_at": job.finished_at, "output": self.shown.name(job.output)}

    def health(self) -> dict[str, Any]:
        try:
            return dict(self._health() or {})
        except Exception as exc:  # noqa: BLE001 - a page must not fail because the daemon is stopping
            log.warning("review page: health unavailable", error=str(exc))
            return {}

    # ------------------------------------------------------------------ reading

    async def waiting(self, request: Request) -> Response:
        jobs = await run_in_threadpool(self.desk.waiting)
        cards = [self.card(j) for j in jobs]
        moving = await run_in_threadpool(self._on_their_way)
        return self.render(request, "waiting.html", title="Waiting for review", nav="waiting",
                           cutouts=[c for c in cards if c["kind"] != ReviewKind.PRODUCT],
                           products=[c for c in cards if c["kind"] == ReviewKind.PRODUCT],
                           moving=moving, choices=self.desk.redo_choices(), back="waiting")

    def _on_their_way(self) -> list[dict]:
        """Jobs a reviewer sent on: approved and publishing, or running again."""
        found = []
        for state in ON_THEIR_WAY:
            found += [j for j in self.desk.journal.jobs(state, limit=50, newest_first=True)
                      if j.approved or j.overrides]
        return [self.card(j) for j in sorted(found, key=lambda j: j.updated_at, reverse=True)]

    async def job(self, request: Request) -> Response:
        job = await self._job_or_404(request)
        history = await run_in_threadpool(self.desk.journal.history, job.id)
        events = [{"at": e.at, "state": STATE_LABELS.get(str(e.state), str(e.state)), "actor": e.actor or "",
                   "note": self.shown.text(e.note or ""), "error": self.shown.text(e.error or "")}
                  for e in reversed(history)]
        return self.render(request, "job.html", title=self.shown.name(job.path), nav="", job=self.card(job),
                           history=events, choices=self.desk.redo_choices(), back="job")

    async def dashboard(self, request: Request) -> Response:
        return self.render(request, "dashboard.html", title="Dashboard", nav="dashboard",
                           live=await run_in_threadpool(self._live))

    async def live(self, request: Request) -> Response:
        html = self.env.get_template("_live.html").render(live=await run_in_threadpool(self._live))
        return HTMLResponse(html)

    def _live(self) -> dict[str, Any]:
        board = self.desk.dashboard(health=self.health())
        shown = self.shown.text
        health = board["health"]
        counts = board["counts"]
        return {
            "counts": [(STATE_LABELS[s], counts.get(s, 0), s) for s in STATE_ORDER],
            "review": board["review"],
            "done_last_hour": board["done_last_hour"],
            "failures": [{**f, "error": shown(f["error"]), "state": STATE_LABELS.get(f["state"], f["state"])}
                         for f in board["failures"] if not self._held_cutout(f)],
            "notices": [{"name": n["name"], "reason": shown(n["reason"]), "fix": shown(n["fix"])}
                        for n in board["notices"]],
            "view_sets": board.get("view_sets", []),
            "observer_alive": health.get("observer_alive"),
            "workers_alive": health.get("workers_alive"),
            "queue_depth": health.get("queue_depth"),
            "roots": [{"name": self.shown.name(r.get("path")), "ok": r.get("ok"), "observer": r.get("observer"),
                       "error": shown(r.get("error") or ""), "since": r.get("since")}
                      for r in health.get("roots") or []],
            "known": bool(health),
            "at": time.time(),
        }

    def _held_cutout(self, failure: Mapping[str, Any]) -> bool:
        """A cut-out held for a look is no failure: it is on the waiting list."""
        if failure["state"] != State.NEEDS_REVIEW:
            return False
        job = self.desk.job(failure["job_id"])
        return job is not None and job.review_kind == ReviewKind.CUTOUT

    async def gallery(self, request: Request) -> Response:
        jobs = await run_in_threadpool(self.desk.published)
        return self.render(request, "gallery.html", title="Published", nav="gallery",
                           jobs=[self.card(j) for j in jobs], choices=self.desk.redo_choices(), back="gallery")

    async def image(self, request: Request) -> Response:
        job_id, kind = request.path_params["job_id"], request.path_params["kind"]
        if kind not in KINDS or await run_in_threadpool(self.desk.job, job_id) is None:
            raise HTTPException(404, f"no {kind} picture of job {job_id}")
        path = self.desk.thumbnails.path(job_id, kind)
        try:
            data = path.read_bytes() if path else None
        except OSError:
            data = None
        return self._picture(request, data, f"no {kind} picture of job {job_id} (it was not made yet)")

    async def large(self, request: Request) -> Response:
        job = await self._job_or_404(request)
        kind = request.path_params["kind"]
        if kind not in KINDS:
            raise HTTPException(404, f"no {kind} picture of job {job.id}")
        data = await run_in_threadpool(self.desk.thumbnails.large, job, kind)
        return self._picture(request, data, f"no {kind} picture of job {job.id}")

    def _picture(self, request: Request, data: bytes | None, missing: str) -> Response:
        if not data:
            raise HTTPException(404, missing)
        tag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
        headers = {"etag": tag, "cache-control": "private, no-cache"}
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=_image_type(data), headers=headers)

    async def _job_or_404(self, request: Request):
        job = await run_in_threadpool(self.desk.job, request.path_params["job_id"])
        if job is None:
            raise HTTPException(404, f"there is no job {request.path_params['job_id']}")
        return job

    # ------------------------------------------------------------------ deciding

    async def approve(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        decisions = await run_in_threadpool(self.desk.approve, [job_id], _actor(request))
        return self._decided(request, job_id, decisions)

    async def reject(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        reason = request.state.form.get("reason", "")
        decisions = await run_in_threadpool(self.desk.reject, [job_id], reason, _actor(request))
        return self._decided(request, job_id, decisions)

    async def redo(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        settings = redo_settings(request.state.form)
        decision = await run_in_threadpool(self.desk.redo, job_id, settings, _actor(request))
        return self._decided(request, job_id, [decision])

    def _decided(self, request: Request, job_id: int, decisions: list[Decision]) -> Response:
        shown = [Decision(d.job_id, d.action, d.ok, self.shown.text(d.message)) for d in decisions]
        back = request.state.form.get("back", "waiting")
        where = BACK.get(back, f"/job/{job_id}")
        anchor = f"#job-{job_id}" if where == "/gallery" else ""
        return RedirectResponse(f"{where}?note={self.notes.keep(shown)}{anchor}", status_code=303)

    # ------------------------------------------------------------------ signing in

    async def login_form(self, request: Request) -> Response:
        if not self.access.needs_login or request.state.signed_in:
            return RedirectResponse(_next(request.query_params.get("next")), status_code=303)
        return self.render(request, "login.html", title="Sign in", nav="", next=_next(request.query_params.get("next")),
                           failed=False)

    async def login(self, request: Request) -> Response:
        form = request.state.form
        target = _next(form.get("next"))
        if not self.access.needs_login:
            return RedirectResponse(target, status_code=303)
        if not self.access.token_matches(form.get("token")):
            log.warning("review page: a sign-in with a wrong token", client=_client(request))
            return self.render(request, "login.html", status=401, title="Sign in", nav="", next=target,
                               failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(self.access.session_cookie, self.access.session_value(), httponly=True,
                            samesite="strict", path="/")
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login" if self.access.needs_login else "/", status_code=303)
        response.delete_cookie(self.access.session_cookie, path="/", httponly=True, samesite="strict")
        return response

    # ------------------------------------------------------------------ errors

    async def not_found(self, request: Request, exc: HTTPException) -> Response:
        return self.render(request, "error.html", status=exc.status_code, nav="", code=exc.status_code,
                           title=_TITLES.get(exc.status_code, "Refused"), message=self.shown.text(exc.detail))

    async def journal_down(self, request: Request, exc: JournalError) -> Response:
        log.error("review page: the journal cannot be read", error=str(exc))
        return self.render(request, "error.html", status=503, title="Unavailable", nav="", code=503,
                           message="the journal cannot be read right now: " + self.shown.text(exc))


def redo_settings(form: Mapping[str, str]) -> dict[str, str]:
    """The redo form's fields -> the desk's dotted settings; a field left empty changes nothing."""
    fields = {"hard_shadows": "white_studio.hard_shadows", "segmenter": "segmenter",
              "choke_px": "refine.choke_px", "feather_px": "refine.feather_px"}
    return {key: form[name].strip() for name, key in fields.items() if (form.get(name) or "").strip()}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _actor(request: Request) -> str:
    return f"review page ({_client(request)})"


def _next(value: str | None) -> str:
    """Only a path on this page: never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return quote(value, safe="/?=&#")


def _image_type(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def create_app(desk: ReviewDesk, access: Access, health: Callable[[], Mapping[str, Any]] = dict,
               clock: Callable[[], float] = time.time) -> Guard:
    """The review page as an ASGI app: the guard in front of the routes."""
    pages = Pages(desk, access, health, clock)
    routes = [
        Route("/", pages.waiting),
        Route("/job/{job_id:int}", pages.job),
        Route("/img/{job_id:int}/{kind}", pages.image),
        Route("/img/{job_id:int}/{kind}/large", pages.large),
        Route("/dashboard", pages.dashboard),
        Route("/dashboard/live", pages.live),
        Route("/gallery", pages.gallery),
        Route("/job/{job_id:int}/approve", pages.approve, methods=["POST"]),
        Route("/job/{job_id:int}/reject", pages.reject, methods=["POST"]),
        Route("/job/{job_id:int}/redo", pages.redo, methods=["POST"]),
        Route("/login", pages.login_form),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: pages.not_found,
                                                       JournalError: pages.journal_down})
    app.state.pages = pages
    return Guard(app, access, pages.refusal)
