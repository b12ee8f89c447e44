"""The review page's app: a real journal with held jobs, real thumbnails, driven over HTTP."""

from __future__ import annotations

import hashlib
import re
import socket
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest

from daemon.config import ConfigError, load_config
from daemon.journal import Checkpoint, Journal, ReviewKind, State
from daemon.review import ReviewDesk, Thumbnails
from daemon.web import ReviewServer, bind, start_review_server, url_of
from daemon.web.access import Access, ReviewSettings, review_token
from daemon.web.app import create_app
from tests.daemon_helpers import photo_bytes

TOKEN = "review-token-for-tests-0123456789"


# ----------------------------------------------------------------------- the shop floor

class Floor:
    """A config, a journal and a desk over a temp folder, with jobs placed in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "config.yaml").write_text("categories: {default: {}, cameras: {}}\n")
        self.config = load_config(root / "config.yaml")
        self.journal = Journal(Path(self.config.state_dir) / "journal.sqlite3")
        self.thumbnails = Thumbnails(Path(self.config.state_dir) / "thumbs")
        self.woken = 0
        self.desk = ReviewDesk(self.config, self.journal, wake=self._wake, thumbnails=self.thumbnails,
                               segmenter_labels=lambda: ["default", "studio-b"])
        self._seed = 0

    def _wake(self) -> None:
        self.woken += 1

    def held(self, name: str = "CAM-331_front.jpg", *, kind: ReviewKind = ReviewKind.CUTOUT,
             reasons=("the cut-out touches the frame's edge",), confidence: float = 0.42,
             thumbs: bool = True, error: str | None = None, product: str = "CAM-331"):
        """A job the gate held, with its original, its output and (unless told) its thumbnails."""
        self._seed += 1
        original = self.root / "inbox" / "cameras" / name
        original.parent.mkdir(parents=True, exist_ok=True)
        data = photo_bytes(64, 64, seed=self._seed)
        original.write_bytes(data)
        output = Path(self.config.output.dir) / "cameras" / product / (Path(name).stem + ".jpg")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
        job, _ = self.journal.add(hashlib.sha256(data).hexdigest(), original, root=self.root / "inbox",
                                  rel=f"cameras/{name}", category="cameras", product_key=product, view="front")
        self.journal.set_state(job.id, State.NEEDS_REVIEW, error=error, review_kind=kind, confidence=confidence,
                               reasons=list(reasons), output=str(output), stage=Checkpoint.PUBLISH)
        if thumbs:
            self.thumbnails.make(job.id, _finished(self._seed))
        return self.journal.get(job.id)

    def done(self, name: str = "CAM-400_back.jpg"):
        job = self.held(name)
        self.journal.set_state(job.id, State.DONE, actor="worker")
        return self.journal.get(job.id)

    def snapshot(self):
        """Everything a request could change: the rows, their history, the files."""
        jobs = [j.as_dict() for j in self.journal.jobs()]
        history = [self.journal.history(j["id"]) for j in jobs]
        files = sorted(str(p) for p in self.root.rglob("*") if p.is_file() and "journal.sqlite3" not in p.name
                       and not p.name.startswith("large-"))  # the full-size pictures' cache is no state
        return jobs, history, files


def _finished(seed: int):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    alpha = np.zeros((48, 64), np.float32)
    alpha[12:36, 16:48] = 1.0
    image = np.dstack([rgb, (alpha * 255).astype(np.uint8)])
    return SimpleNamespace(photo=SimpleNamespace(rgb=rgb),
                           result=SimpleNamespace(image=image, segmentation=SimpleNamespace(alpha=alpha)))


@pytest.fixture
def floor(tmp_path):
    floor = Floor(tmp_path)
    yield floor
    floor.journal.close()


@pytest.fixture
def serve(floor):
    """serve(token=None, health=None) -> an httpx client of the page, served for real on 127.0.0.1."""
    running = []

    def start(token: str | None = None, health=None) -> httpx.Client:
        sock = bind("127.0.0.1", 0)
        access = Access(token, port=sock.getsockname()[1])
        app = create_app(floor.desk, access, health=health or (lambda: HEALTH))
        server = ReviewServer(app, sock, url_of(sock)).start()
        client = httpx.Client(base_url=server.url.rstrip("/"), follow_redirects=False, timeout=10)
        running.append((server, client))
        return client
    yield start
    for server, client in running:
        client.close()
        server.close()


HEALTH = {"observer_alive": True, "workers_alive": True, "idle": True, "queue_depth": 0, "last_done": None,
          "roots": [{"path": "/srv/booth/inbox", "ok": True, "observer": "inotify", "error": None, "since": 0}]}


def csrf_of(client: httpx.Client, page: str = "/") -> str:
    """The CSRF token a page's forms carry (the same as its cookie)."""
    body = client.get(page).text
    cookie = next(v for k, v in client.cookies.items() if k.startswith("booth_csrf_"))
    found = re.search(r'name="csrf" value="([^"]+)"', body)
    assert found is None or found.group(1) == cookie
    return cookie


def post(client: httpx.Client, url: str, data: dict, csrf: str | None = "page", **kw) -> httpx.Response:
    form = dict(data)
    if csrf == "page":
        csrf = csrf_of(client)
    if csrf is not None:
        form["csrf"] = csrf
    return client.post(url, data=form, headers={"origin": str(client.base_url), **kw.pop("headers", {})}, **kw)


def note_after(client: httpx.Client, response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"]).text
    return " ".join(re.findall(r'<p class="note [^"]*" role="status">([^<]*)</p>', page))


# ----------------------------------------------------------------------- what the page shows

def test_the_waiting_list_shows_each_held_photo_with_its_facts_pictures_and_buttons(floor, serve):
    older = floor.held("CAM-331_front.jpg", reasons=("the cut-out touches the frame's edge",))
    newer = floor.held("CAM-331_side.jpg", reasons=("low contrast against the sweep",), confidence=0.31)
    waits = floor.held("MYSTERY_front.jpg", kind=ReviewKind.PRODUCT, reasons=(), product="MYSTERY",
                       error="no product matches MYSTERY")
    page = serve().get("/").text

    articles = re.findall(r'<article id="job-(\d+)" class="job[^"]*"', page)
    assert articles == [str(newer.id), str(older.id), str(waits.id)]  # newest first; products apart, after
    first = page[page.index(f'id="job-{newer.id}"'):page.index(f'id="job-{older.id}"')]
    for text in ("CAM-331_side.jpg", "cameras", "CAM-331", "0.31", "low contrast against the sweep"):
        assert text in first
    for kind in ("original", "mask", "result"):
        assert f'src="/img/{newer.id}/{kind}?v=' in first
    assert re.findall(r'<button type="submit"[^>]*>(\w+)</button>', first) == ["Approve", "Reject", "Redo"]
    assert 'name="reason" required' in first
    for field in ("hard_shadows", "segmenter", "choke_px", "feather_px"):
        assert f'name="{field}"' in first
    assert '<option value="studio-b">' in first

    apart = page[page.index("Waiting for a product"):]
    assert f"booth link {waits.id} PRODUCT_ID" in apart
    assert "no product matches MYSTERY" in apart
    assert "Approve" not in apart


def test_the_full_size_page_shows_the_large_pictures_and_the_history(floor, serve):
    job = floor.held()
    client = serve()
    page = client.get(f"/job/{job.id}").text
    assert f'src="/img/{job.id}/result/large?v=' in page and "History" in page and "needs review" in page
    large = client.get(f"/img/{job.id}/result/large")
    assert large.status_code == 200 and large.headers["content-type"] == "image/jpeg"
    assert large.content == Path(job.output).read_bytes()  # the finished image itself
    assert client.get(f"/img/{job.id}/original/large").content[:2] == b"\xff\xd8"


def test_a_thumbnail_is_served_by_job_id_and_kind(floor, serve):
    job = floor.held()
    response = serve().get(f"/img/{job.id}/mask")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content == (floor.thumbnails.folder / str(job.id) / "mask.jpg").read_bytes()
    again = serve().get(f"/img/{job.id}/mask", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304


def test_the_dashboard_counts_states_and_shows_failures_notices_and_watchers(floor, serve):
    floor.held("held.jpg", error="every cameras photo is reviewed")
    floor.held("MYSTERY.jpg", kind=ReviewKind.PRODUCT, product="MYSTERY", error="no product matches MYSTERY")
    floor.done()
    failed = floor.held("broken.jpg")
    floor.journal.set_state(failed.id, State.QUARANTINED, error="not a photo: the file is truncated")
    floor.journal.notice(floor.root / "inbox" / "odd.heic.lnk", kind="link", reason="a symbolic link",
                         fix="copy the photo itself")
    client = serve(health=lambda: {**HEALTH, "observer_alive": False})
    for url in ("/dashboard", "/dashboard/live"):
        page = client.get(url).text
        assert re.search(r'data-state="needs_review"><span class="n">2<', page)
        assert re.search(r'data-state="done"><span class="n">1<', page)
        assert re.search(r'data-state="done-last-hour"><span class="n">1<', page)
        failures = page[page.index("Last failures"):page.index("Photos not taken")]
        assert "broken.jpg" in failures and "the file is truncated" in failures
        assert "no product matches MYSTERY" in failures
        assert "held.jpg" not in failures  # a cut-out held for a look is on the waiting list, not a failure
        assert "odd.heic.lnk" in page and "copy the photo itself" in page
        assert "NOT watching" in page and "<strong>inbox</strong>" in page
    assert 'src="/static/live.js"' in client.get("/dashboard").text


def test_the_gallery_shows_published_images_each_with_a_redo(floor, serve):
    done = floor.done("CAM-400_back.jpg")
    floor.held("CAM-331_front.jpg")
    page = serve().get("/gallery").text
    assert re.findall(r'<article id="job-(\d+)" class="card"', page) == [str(done.id)]
    assert f'action="/job/{done.id}/redo"' in page and f'src="/img/{done.id}/result?v=' in page


# ----------------------------------------------------------------------- deciding

def test_approve_queues_the_publish_once_and_a_second_approve_says_nothing_changed(floor, serve):
    job = floor.held()
    client = serve()
    first = post(client, f"/job/{job.id}/approve", {"back": "waiting"})
    assert "approved" in note_after(client, first)
    after = floor.journal.get(job.id)
    assert (after.state, after.stage, after.approved) == (State.WAITING, Checkpoint.PUBLISH, True)
    assert floor.woken == 1
    assert f'id="job-{job.id}"' not in client.get("/").text.split("On their way")[0]
    assert f'id="moving-{job.id}"' in client.get("/").text

    again = post(client, f"/job/{job.id}/approve", {"back": "waiting"})
    assert "is no longer waiting for review" in note_after(client, again)
    assert floor.journal.history(job.id)[-1].note == "approved"
    assert [e.note for e in floor.journal.history(job.id)].count("approved") == 1


def test_reject_needs_a_reason_and_keeps_it_with_who_rejected(floor, serve):
    job = floor.held()
    client = serve()
    blank = post(client, f"/job/{job.id}/reject", {"reason": "   ", "back": "waiting"})
    assert "a reason is needed" in note_after(client, blank)
    assert floor.journal.get(job.id).state == State.NEEDS_REVIEW

    done = post(client, f"/job/{job.id}/reject", {"reason": "lens cap left on", "back": "job"})
    assert done.headers["location"].startswith(f"/job/{job.id}?note=")
    assert "rejected" in note_after(client, done)
    after = floor.journal.get(job.id)
    assert after.state == State.REJECTED and "lens cap left on" in after.error
    last = floor.journal.history(job.id)[-1]
    assert (last.actor, last.note) == ("review page (127.0.0.1)", "lens cap left on")


def test_redo_runs_the_photo_again_with_the_settings_chosen(floor, serve):
    job = floor.held()
    client = serve()
    response = post(client, f"/job/{job.id}/redo", {"hard_shadows": "true", "segmenter": "", "choke_px": "1.5",
                                                     "feather_px": "", "back": "waiting"})
    assert "runs again" in note_after(client, response)
    after = floor.journal.get(job.id)
    assert after.state == State.WAITING and after.stage == Checkpoint.LOAD
    assert after.overrides == {"white_studio.hard_shadows": "true", "refine.choke_px": "1.5"}


def test_a_redo_setting_that_does_not_validate_is_said_and_changes_nothing(floor, serve):
    job = floor.held()
    client = serve()
    before = floor.snapshot()
    response = post(client, f"/job/{job.id}/redo", {"choke_px": "lots", "back": "waiting"})
    assert "cannot redo" in note_after(client, response)
    assert floor.snapshot() == before


# ----------------------------------------------------------------------- safe by construction

def test_no_get_changes_anything(floor, serve):
    job = floor.held()
    floor.held("MYSTERY.jpg", kind=ReviewKind.PRODUCT, product="MYSTERY")
    floor.done()
    client = serve()
    before = floor.snapshot()
    for url in ("/", f"/job/{job.id}", "/dashboard", "/dashboard/live", "/gallery", "/login",
                f"/img/{job.id}/result", f"/img/{job.id}/mask/large", f"/job/{job.id}/approve",
                f"/job/{job.id}/reject?reason=x", f"/job/{job.id}/redo?hard_shadows=true", "/logout"):
        assert client.get(url).status_code in (200, 303, 405), url
    for method in ("PUT", "DELETE", "PATCH"):
        assert client.request(method, f"/job/{job.id}/approve").status_code == 405
    assert floor.snapshot() == before and floor.woken == 0


@pytest.mark.parametrize("action, form", [("approve", {}), ("reject", {"reason": "blurred"}),
                                          ("redo", {"hard_shadows": "true"})])
def test_a_post_without_the_pages_csrf_token_is_refused_and_changes_nothing(floor, action, form, serve):
    job = floor.held()
    client = serve()
    real = csrf_of(client)
    forged = Access(None).new_csrf()  # well formed, signed by another process
    before = floor.snapshot()
    for csrf in (None, "", "nonsense", real + "x", forged):
        response = post(client, f"/job/{job.id}/{action}", form, csrf=csrf)
        assert response.status_code == 403, csrf
        assert "refused" in response.text
    other_site = post(client, f"/job/{job.id}/{action}", form, csrf=real, headers={"origin": "http://evil.example"})
    assert other_site.status_code == 403
    with httpx.Client(base_url=client.base_url) as fresh:
        no_cookie = fresh.post(f"/job/{job.id}/{action}", data={**form, "csrf": real},
                               headers={"origin": str(client.base_url)})
    assert no_cookie.status_code == 403
    assert floor.snapshot() == before and floor.woken == 0


def test_a_page_reached_under_another_host_name_is_refused_without_a_token(floor, serve):
    """A web page elsewhere that rebinds its own name to 127.0.0.1 gets nothing."""
    floor.held()
    client = serve()
    assert client.get("/", headers={"host": "evil.example"}).status_code == 421
    assert client.get("/", headers={"host": "localhost:9000"}).status_code == 200  # an SSH tunnel's port


def test_a_non_loopback_address_without_a_token_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.delenv("BOOTH_REVIEW_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    service = SimpleNamespace(config=SimpleNamespace(review=SimpleNamespace(enabled=True, host="0.0.0.0", port=0)))
    with pytest.raises(ConfigError, match=r"review.host is 0.0.0.0.*BOOTH_REVIEW_TOKEN.*review-token"):
        start_review_server(service)
    monkeypatch.setenv("BOOTH_REVIEW_TOKEN", "short")
    with pytest.raises(ConfigError, match="too short"):
        start_review_server(service)


def test_the_token_comes_from_the_environment_or_the_systemd_credential(tmp_path):
    settings = ReviewSettings(host="0.0.0.0", token_env="MY_TOKEN", token_credential="page-token")
    assert review_token(settings, {"MY_TOKEN": TOKEN}) == TOKEN
    (tmp_path / "page-token").write_text(TOKEN + "\n")
    assert review_token(settings, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == TOKEN
    assert review_token(ReviewSettings(), {}) is None  # loopback: no token needed


def test_with_a_token_every_request_needs_it(floor, serve):
    job = floor.held()
    client = serve(TOKEN)
    assert client.get("/", headers={"accept": "text/html"}).headers["location"] == "/login?next=/"
    for url in ("/", f"/job/{job.id}", f"/img/{job.id}/result", "/dashboard/live", "/gallery"):
        assert client.get(url).status_code == 401, url
    assert client.get(f"/img/{job.id}/result", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/", headers={"authorization": "Bearer wrong-token-wrong-token"}).status_code == 401

    csrf = csrf_of(client, "/login")
    wrong = client.post("/login", data={"csrf": csrf, "token": "not-the-token", "next": "/"})
    assert wrong.status_code == 401 and "not the review token" in wrong.text
    assert post(client, f"/job/{job.id}/approve", {}, csrf=csrf).status_code == 401
    right = client.post("/login", data={"csrf": csrf, "token": TOKEN, "next": f"/job/{job.id}"})
    assert right.status_code == 303 and right.headers["location"] == f"/job/{job.id}"
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and TOKEN not in cookie
    assert client.get(f"/job/{job.id}").status_code == 200
    approved = post(client, f"/job/{job.id}/approve", {}, csrf=csrf)
    assert "approved" in note_after(client, approved)

    assert post(client, "/logout", {}, csrf=csrf).status_code == 303
    assert client.get("/").status_code == 401


def test_no_page_shows_a_server_path_or_the_token(floor, serve):
    job = floor.held(error=None, reasons=(f"the original at {floor.root}/inbox/cameras/x.jpg is small",))
    floor.held("MYSTERY.jpg", kind=ReviewKind.PRODUCT, product="MYSTERY",
               error=f"no product matches MYSTERY ({floor.config.state_dir}/x)")
    done = floor.done()
    failed = floor.held("broken.jpg")
    floor.journal.set_state(failed.id, State.QUARANTINED, error="cannot read /var/tmp/elsewhere/broken.jpg")
    floor.journal.notice(floor.root / "inbox" / "odd.lnk", kind="link", reason=f"{floor.root}/inbox/odd.lnk is a link")
    gone = floor.held("gone.jpg")
    gone.file.unlink()
    client = serve(TOKEN)
    auth = {"authorization": f"Bearer {TOKEN}"}
    redo = client.post(f"/job/{gone.id}/redo", headers={**auth, "origin": str(client.base_url)},
                       data={"csrf": csrf_of(client, "/login"), "back": "job"})
    pages = [client.get(redo.headers["location"], headers=auth).text]
    for url in ("/", f"/job/{job.id}", f"/job/{done.id}", f"/job/{failed.id}", "/dashboard", "/dashboard/live",
                "/gallery", "/login", "/nowhere", f"/job/{job.id + 100}"):
        pages.append(client.get(url, headers=auth).text)
    assert "the original gone.jpg is no longer where it was taken from" in pages[0]
    for page in pages:
        assert str(floor.root) not in page and "/var/tmp" not in page and "/srv/booth" not in page
        assert TOKEN not in page
    assert "inbox/cameras/x.jpg is small" in pages[2]


def test_a_file_name_with_markup_shows_as_text(floor, serve):
    job = floor.held('<script>alert(1)<img src=x onerror="alert(2)">.jpg', reasons=("<b>bold</b> reason",))
    client = serve()
    for page in (client.get("/").text, client.get(f"/job/{job.id}").text, client.get("/dashboard").text):
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold</b>" not in page
    for page in (client.get("/").text, client.get(f"/job/{job.id}").text):
        assert "&lt;script&gt;alert(1)&lt;img src=x onerror=&#34;alert(2)&#34;&gt;.jpg" in page
        assert "&lt;b&gt;bold&lt;/b&gt; reason" in page


def test_an_unknown_job_or_a_missing_picture_is_404(floor, serve):
    job = floor.held(thumbs=False)
    client = serve()
    for url in (f"/job/{job.id + 1}", f"/img/{job.id + 1}/result", f"/img/{job.id}/result",
                f"/img/{job.id}/secret", f"/img/{job.id}/..%2f..%2fjournal.sqlite3", "/img/x/result",
                f"/img/{job.id}/secret/large", f"/img/{job.id + 1}/result/large"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Traceback" not in response.text
    decided = post(client, f"/job/{job.id + 1}/approve", {"back": "waiting"})
    assert f"no job {job.id + 1}" in note_after(client, decided)


# ----------------------------------------------------------------------- the server on its thread

def _service(floor: Floor, **review):
    config = floor.config.model_copy(update={"review": SimpleNamespace(enabled=True, **review)})
    return SimpleNamespace(config=config, journal=floor.journal, events=None,
                           worker=SimpleNamespace(wake=lambda: None), runner=SimpleNamespace(plan=None),
                           segmenters=SimpleNamespace(labels=["default"]), health=lambda: SimpleNamespace())


def test_the_server_serves_on_its_own_thread_and_stops_cleanly(floor):
    import dataclasses

    @dataclasses.dataclass
    class Health:
        observer_alive: bool = True

    floor.held()
    service = _service(floor, host="127.0.0.1", port=0)
    service.health = Health
    server = start_review_server(service)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.url)
        with httpx.Client(base_url=server.url) as http:
            assert "CAM-331_front.jpg" in http.get("/").text
            assert "Watching for new photos" in http.get("/dashboard/live").text
    finally:
        server.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=2)


def test_requests_leave_no_access_log(floor, serve, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    client = serve()
    assert client.get("/").status_code == 200 and client.get("/nowhere").status_code == 404
    assert [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn") and r.levelno >= logging.INFO
            and "GET /" in r.getMessage()] == []


def test_a_port_in_use_is_a_clear_error(floor):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ConfigError, match=rf"cannot listen on 127\.0\.0\.1:{port}: .*review\.port"):
            start_review_server(_service(floor, host="127.0.0.1", port=port))
    finally:
        taken.close()
