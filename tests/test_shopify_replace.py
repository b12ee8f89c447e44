"""New bytes for a published job go into the same file: the media keeps its id
and its place on the product, exactly once, under every fault; an older photo
of a view never takes a newer one's place."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations.shopify.config import PublishParams
from integrations.shopify.errors import TransientError
from integrations.shopify.publish import Published, Publisher
from tests.fake_shopify import FakeShopify, Faults
from tests.fake_shopify.testing import ANY, TOKEN, Crash, CrashAfter, MemoryStore, request_for, shop_config, \
    tiny_image

ENV = {"SHOPIFY_ACCESS_TOKEN": TOKEN}


@pytest.fixture
def fake():
    with FakeShopify(bucket=(1000.0, 500.0)) as shop:  # a fast-refilling bucket: these tests are not about pacing
        yield shop


def publisher(fake, **changes) -> Publisher:
    return Publisher(shop_config(fake.url, **changes), environ=ENV)


def image(tmp_path, key="CAM-1", view="front", index=0, seed=0, job_id="1", pad=0, **kw):
    """The job's finished image: the same path for every version of it, as the worker writes it."""
    path, sha = tiny_image(tmp_path, f"{key}-{view}-{job_id}.jpg", seed, pad=pad)
    return request_for(path, sha, key, view=view, index=index, job_id=job_id, **kw)


def published_product(fake, tmp_path, views=("front", "back", "left")):
    """A product with three of booth's images (jobs 1-3) and a hand-made one."""
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    fake.store.add_foreign_image(product, "hand-made.jpg")
    pub = publisher(fake)
    stores = {}
    for i, view in enumerate(views):
        stores[view] = MemoryStore()
        pub.publish(image(tmp_path, view=view, index=i, seed=i, job_id=str(i + 1)), stores[view])
    return product, stores


def test_new_bytes_replace_the_published_file_in_place_once(fake, tmp_path):
    product, stores = published_product(fake, tmp_path)
    order, files = list(product.media), len(fake.store.file_by_id)
    redo = image(tmp_path, view="back", index=1, seed=50, job_id="2", pad=10)  # job 2, rendered again
    result = publisher(fake).publish(redo, stores["back"])
    assert result == Published(product.id, order[1], replaced=True)
    assert product.media == order and len(fake.store.file_by_id) == files  # same ids, same places, nothing new
    assert fake.store.source_updates == [order[1]]
    assert fake.store.file_by_id[order[1]].content == redo.image_path.read_bytes()
    assert fake.store.file_by_id[order[1]].status == "READY"
    assert stores["back"].progress.published_sha256 == redo.image_sha256 and stores["back"].progress.replacement is None
    assert fake.stats.invalid == [] and fake.stats.over_cost == []


def test_the_same_bytes_again_change_nothing(fake, tmp_path):
    product, stores = published_product(fake, tmp_path)
    requests = fake.stats.requests
    again = publisher(fake).publish(image(tmp_path, view="back", index=1, seed=1, job_id="2"), stores["back"])
    assert again.media_id == product.media[1] and not again.replaced
    assert fake.stats.requests == requests and fake.stats.uploads == 3 and fake.store.source_updates == []


@pytest.mark.parametrize("fault", ["drop", "slow", "502", "internal"])
def test_an_ambiguous_replacement_is_looked_up_before_it_is_sent_again(fake, tmp_path, fault):
    product, stores = published_product(fake, tmp_path)
    order = list(product.media)
    fake.faults.slow_seconds = 0.5
    fake.inject(fault, "fileUpdate")
    redo = image(tmp_path, view="front", index=0, seed=60, job_id="1", pad=7)
    result = publisher(fake, timeout=0.25).publish(redo, stores["front"])
    assert result.replaced and product.media == order and len(fake.store.file_by_id) == 4
    assert fake.store.source_updates == [order[0]]  # the send that took is not repeated; one that did not, is
    assert fake.store.file_by_id[order[0]].content == redo.image_path.read_bytes()


@pytest.mark.parametrize("field, value", [("replacement", ANY), ("replacement", lambda r: r and r.pending),
                                          ("published_sha256", ANY)], ids=["staged", "pending", "done"])
def test_a_restart_after_any_step_of_a_replacement_sends_it_once(fake, tmp_path, field, value):
    product, stores = published_product(fake, tmp_path)
    order = list(product.media)
    store = CrashAfter(field, value, data=stores["left"].data)
    redo = image(tmp_path, view="left", index=2, seed=70, job_id="3", pad=3)
    with pytest.raises(Crash):
        publisher(fake).publish(redo, store)
    result = publisher(fake).publish(redo, store)  # a fresh process, the same journal
    assert result.media_id == order[2] and product.media == order
    assert fake.store.source_updates == [order[2]] and store.progress.published_sha256 == redo.image_sha256


@pytest.mark.parametrize("seed, pad", [(80, 5), (256, 0)], ids=["another size", "the same size"])
def test_a_replacement_that_took_before_a_crash_is_found_and_not_sent_again(fake, tmp_path, seed, pad):
    product, stores = published_product(fake, tmp_path)
    order = list(product.media)
    before = len(fake.store.file_by_id[order[0]].content)
    redo = image(tmp_path, view="front", index=0, seed=seed, job_id="1", pad=pad)  # seed 256: seed 0's colour
    assert (redo.image_path.stat().st_size == before) == (pad == 0)  # same size: only updatedAt can tell
    fake.inject("drop", "fileUpdate")        # Shopify takes the new bytes; the answer never comes
    fake.inject("ok", "nodes")               # the file as it was before
    fake.inject("502", "nodes", times=30)    # and the look-up after cannot tell
    with pytest.raises(TransientError):
        publisher(fake, max_retries=1).publish(redo, stores["front"])
    assert stores["front"].progress.replacement.pending
    fake.faults.forced.clear()
    for _ in range(3):  # processing finishes meanwhile
        fake.store._advance(fake.store.file_by_id[order[0]])
    result = publisher(fake).publish(redo, stores["front"])
    assert result.replaced and fake.store.source_updates == [order[0]] and product.media == order


def test_a_replacement_pending_for_older_bytes_is_settled_before_the_newest_go_in(fake, tmp_path):
    product, stores = published_product(fake, tmp_path)
    order = list(product.media)
    first = image(tmp_path, view="front", index=0, seed=90, job_id="1", pad=2)
    store = CrashAfter("replacement", data=stores["front"].data)
    with pytest.raises(Crash):
        publisher(fake).publish(first, store)  # staged, never sent
    second = image(tmp_path, view="front", index=0, seed=91, job_id="1", pad=4)  # redone again meanwhile
    assert publisher(fake).publish(second, store).replaced
    assert fake.store.source_updates == [order[0]]
    assert fake.store.file_by_id[order[0]].content == second.image_path.read_bytes()


def test_new_bytes_that_fail_processing_are_published_afresh_in_the_same_place(fake, tmp_path):
    product, stores = published_product(fake, tmp_path)
    order = list(product.media)
    broken = fake.store.file_by_id[order[1]]
    fake.store.fail_media.add(broken.filename)  # the new bytes will not process
    redo = image(tmp_path, view="back", index=1, seed=95, job_id="2", pad=1)
    result = publisher(fake).publish(redo, stores["back"])
    assert fake.store.deleted == [broken] and result.media_id not in order
    assert product.media == [order[0], result.media_id, order[2], order[3]]  # back in its place by view index
    assert fake.store.file_by_id[result.media_id].content == redo.image_path.read_bytes()


@pytest.mark.parametrize("live", ["same", "new"])
def test_a_job_published_by_an_earlier_release_is_carried_on(fake, tmp_path, live):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    old = image(tmp_path, seed=1, job_id="p-1")
    publisher(fake).publish(old, MemoryStore())
    file = next(iter(fake.store.file_by_id.values()))
    legacy = {"product_id": product.id, "product_title": "Camera", "staged_resource_url": "http://x/staged/t/a.jpg",
              "file_pending": file.filename, "file_id": file.id, "attach_pending": file.id,
              "attached": file.id, "variant_media": "", "reordered": "1", "replaced": "", "failed_files": ""}
    store = MemoryStore(legacy)
    request = old if live == "same" else image(tmp_path, seed=2, job_id="p-1", pad=9)
    result = publisher(fake).publish(request, store)
    assert result.media_id == file.id and product.media == [file.id]
    assert fake.store.source_updates == ([] if live == "same" else [file.id])
    assert store.data["version"] == 2 and store.progress.published_sha256 == request.image_sha256


# --------------------------------------------------------------------------- newer photos win

@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_an_older_photo_of_a_view_never_replaces_a_newer_one(fake, tmp_path, order):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    params = PublishParams(replace="replace-same-view")
    older = image(tmp_path, seed=1, job_id="3", params=params)
    newer = image(tmp_path, seed=2, job_id="7", params=params)
    pub = publisher(fake)
    stores = {"3": MemoryStore(), "7": MemoryStore()}
    for request in ([older, newer] if order == "older first" else [newer, older]):  # e.g. job 3 retried late
        pub.publish(request, stores[request.job_id])
    assert fake.store.media_filenames(product) == [newer.filename]
    assert stores["3"].progress.superseded == (order == "newer first")


def test_a_superseded_job_redone_does_not_come_back(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    params = PublishParams(replace="replace-same-view")
    pub = publisher(fake)
    newer, older_store = image(tmp_path, seed=2, job_id="7", params=params), MemoryStore()
    pub.publish(newer, MemoryStore())
    pub.publish(image(tmp_path, seed=1, job_id="3", params=params), older_store)
    pub.publish(image(tmp_path, seed=5, job_id="3", pad=4, params=params), older_store)
    assert fake.store.media_filenames(product) == [newer.filename] and fake.store.source_updates == []


def test_the_sku_search_reads_past_the_first_page(fake, tmp_path):
    for n in range(130):  # CAM-1 is a prefix of all of them: Shopify's fuzzy search finds them first
        fake.store.add_product(f"Kit {n}", skus=[f"CAM-1{n:03d}"])
    product = fake.store.add_product("Body", skus=["CAM-1"])
    result = publisher(fake).publish(image(tmp_path), MemoryStore())
    assert result.product_id == product.id and fake.stats.by_operation["productVariants"] == 2
    assert fake.stats.over_cost == []


def test_the_title_search_reads_past_the_first_page(fake, tmp_path):
    for n in range(45):
        fake.store.add_product(f"Sony A7IV #{n}", skus=[f"U-{n}"])
    product = fake.store.add_product("Sony A7IV #331", skus=["U-331"])
    params = PublishParams(lookup="title-serial")
    result = publisher(fake).publish(image(tmp_path, key="sony a7iv #331", params=params), MemoryStore())
    assert result.product_id == product.id and fake.stats.by_operation["products"] == 3


# --------------------------------------------------------------------------- under faults

def test_a_product_rendered_again_under_every_fault_keeps_its_media_ids_and_order(tmp_path):
    faults = Faults(rate=0.2, upload_rate=0.2, retry_after="0.05", slow_seconds=0.4, seed=11)
    views = ["front", "back", "left", "right"]
    with FakeShopify(bucket=(400.0, 2000.0), faults=faults) as fake:
        products = [fake.store.add_product(f"Camera {p}", skus=[f"CAM-{p}"]) for p in range(3)]
        config = shop_config(fake.url, timeout=0.2, poll_interval=0.002, max_retries=6)
        pub = Publisher(config, environ=ENV)
        jobs = [(p, i, str(10 * p + i + 1), MemoryStore()) for p in range(3) for i in range(len(views))]

        def run(request, store):
            for _ in range(10):  # what the daemon does with a transient failure: try the job again
                try:
                    return pub.publish(request, store)
                except TransientError:
                    pass
            raise AssertionError(f"job {request.job_id} never published")

        def render(round_):
            requests = [(image(tmp_path, f"CAM-{p}", views[i], i, seed=100 * round_ + 10 * p + i, job_id=job,
                               pad=round_), store) for p, i, job, store in jobs]
            random.Random(round_).shuffle(requests)
            with ThreadPoolExecutor(3) as pool:
                return list(pool.map(lambda pair: run(*pair), requests)), requests

        first, _ = render(0)
        ids = [list(p.media) for p in products]
        files = len(fake.store.file_by_id)
        again, requests = render(1)  # every view of every product rendered again at a new scale
        pub.close()
        assert all(r.replaced for r in again) and not any(r.replaced for r in first)
        assert [list(p.media) for p in products] == ids and len(fake.store.file_by_id) == files == 12
        assert sorted(fake.store.source_updates) == sorted(m for media in ids for m in media)  # each once
        for request, store in requests:
            file = fake.store.file_by_id[store.progress.file_id]
            assert file.content == request.image_path.read_bytes() and file.status == "READY"
        assert fake.stats.over_limit == 0 and fake.stats.invalid == [] and fake.stats.over_cost == []
        assert fake.stats.faults  # the faults did happen
