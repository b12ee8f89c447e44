"""The review page in a real browser, against a real ``booth run`` and the fake shop.

Every photo is held (``review.mode: always``); a person approves one, rejects
one and has one run again, and the shop, the journal and the page show what
each decision did. Chromium is Debian's (``apt-get install chromium``); CI
installs it (.ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import socket

import pytest

from tests.daemon_helpers import Daemon, photo_bytes, wait_for, write

pytestmark = pytest.mark.slow

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
PATIENCE_MS = 30_000


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def shop_and_daemon(tmp_path):
    from tests.fake_shopify import FakeShopify
    from tests.fake_shopify.testing import TOKEN

    with FakeShopify() as fake:
        products = {sku: fake.store.add_product(f"Camera {sku}", skus=[sku]) for sku in ("CAM-1", "CAM-2", "CAM-3")}
        port = free_port()
        daemon = Daemon(tmp_path, review={"enabled": True, "host": "127.0.0.1", "port": port},
                        categories={"default": {"review": {"mode": "always"}}},
                        shopify={"enabled": True, "admin_url": fake.url, "timeout": 5.0, "retry_initial": 0.05,
                                 "retry_max": 0.2, "poll_interval": 0.02})
        daemon.url = f"http://127.0.0.1:{port}/"
        try:
            daemon.start(env={"SHOPIFY_ACCESS_TOKEN": TOKEN})
            yield fake, products, daemon
        finally:
            daemon.stop()


def job_named(daemon: Daemon, name: str, state: str | None = None) -> dict | None:
    return next((j for j in daemon.jobs(state) if j["path"].endswith(name)), None)


def held_all(daemon: Daemon, count: int) -> list[dict] | None:
    held = daemon.jobs("needs_review")
    return held if len(held) == count else None


def back_for_review(daemon: Daemon, name: str) -> dict | None:
    job = job_named(daemon, name)
    return job if job and job["state"] == "needs_review" and job["finished_at"] else None


def test_a_person_approves_rejects_and_redoes_held_photos_and_the_shop_sees_only_the_approved_one(
        browser, shop_and_daemon):
    expect = sync_api.expect
    fake, products, daemon = shop_and_daemon
    names = {"CAM-1": "CAM-1_Front_1.jpg", "CAM-2": "CAM-2_Front_1.jpg", "CAM-3": "CAM-3_Front_1.jpg"}
    for seed, name in enumerate(names.values()):
        write(daemon.inbox / name, photo_bytes(seed=70 + seed))
    held = wait_for(lambda: held_all(daemon, 3), 60, "three photos held for review")
    ids = {sku: next(j["id"] for j in held if j["path"].endswith(name)) for sku, name in names.items()}
    assert all(fake.store.media_filenames(p) == [] for p in products.values())  # held: not on the shop

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PATIENCE_MS)
    board = context.new_page()
    board.goto(daemon.url + "dashboard")
    expect(board.locator('[data-state="needs_review"] .n')).to_have_text("3")

    page = context.new_page()
    page.goto(daemon.url)
    expect(page.locator("article.job")).to_have_count(3)
    card = {sku: page.locator(f"article#job-{job_id}") for sku, job_id in ids.items()}
    for sku, name in names.items():
        expect(card[sku].get_by_role("heading")).to_have_text(name)
        expect(card[sku]).to_contain_text("every default photo is reviewed")
        expect(card[sku].locator("img")).to_have_count(3)

    # A second reviewer has CAM-1 open on its own page.
    other = context.new_page()
    other.goto(daemon.url + f"job/{ids['CAM-1']}")

    card["CAM-1"].get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"job {ids['CAM-1']} approved")
    expect(card["CAM-1"]).to_have_count(0)

    other.get_by_role("button", name="Approve", exact=True).click()
    expect(other.get_by_role("status")).to_contain_text("no longer waiting for review")

    card["CAM-2"].get_by_role("textbox", name="reason").fill("lens cap left on")
    card["CAM-2"].get_by_role("button", name="Reject", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"job {ids['CAM-2']} rejected")
    expect(card["CAM-2"]).to_have_count(0)

    card["CAM-3"].get_by_label("hard shadows").select_option("true")
    card["CAM-3"].get_by_role("button", name="Redo", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("white_studio.hard_shadows=true")
    expect(card["CAM-3"]).to_have_count(0)

    # The approved one is published exactly once; the rejected one never reaches the shop.
    wait_for(lambda: job_named(daemon, names["CAM-1"], "done"), 60, "the approved photo to be published")
    assert len(fake.store.media_filenames(products["CAM-1"])) == 1
    rejected = job_named(daemon, names["CAM-2"])
    assert rejected["state"] == "rejected" and "lens cap left on" in rejected["error"]

    # The redone one ran again with its new settings and came back for review.
    back = wait_for(lambda: back_for_review(daemon, names["CAM-3"]), 60, "the redone photo back for review")
    assert '"white_studio.hard_shadows": "true"' in back["overrides"]
    page.reload()
    expect(card["CAM-3"]).to_contain_text("white_studio.hard_shadows=true")
    expect(card["CAM-3"]).to_contain_text("run again with changed settings")
    expect(page.locator("article.job")).to_have_count(1)

    # The dashboard kept itself up to date; the gallery shows what was published.
    expect(board.locator('[data-state="needs_review"] .n')).to_have_text("1")
    expect(board.locator('[data-state="rejected"] .n')).to_have_text("1")
    expect(board.locator('[data-state="done"] .n')).to_have_text("1")
    gallery = context.new_page()
    gallery.goto(daemon.url + "gallery")
    expect(gallery.locator("article.card")).to_have_count(1)
    expect(gallery.locator(f"article#job-{ids['CAM-1']}")).to_contain_text(names["CAM-1"])

    history = context.new_page()
    history.goto(daemon.url + f"job/{ids['CAM-2']}")
    expect(history.locator(".history")).to_contain_text("review page (127.0.0.1)")
    expect(history.locator(".history")).to_contain_text("lens cap left on")
    context.close()

    assert fake.store.media_filenames(products["CAM-2"]) == []
    assert fake.store.media_filenames(products["CAM-3"]) == []
    assert len(fake.store.media_filenames(products["CAM-1"])) == 1
    assert not re.search(r"Traceback", daemon.log_text())
