"""The bar: every fault at 20% of requests, 200 images across 20 products, and
each image ends attached exactly once, in order, without ever overdrawing the
cost bucket; a fifth of the images FAIL processing once and are made again.
Then a quarter of them are rendered again, under the same faults: the new
bytes go into the same files, which keep their ids and places."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations.shopify.errors import TransientError
from integrations.shopify.publish import Published, Publisher
from tests.fake_shopify import KINDS, FakeShopify, Faults
from tests.fake_shopify.testing import TOKEN, MemoryStore, request_for, shop_config, tiny_image

PRODUCTS, PER_PRODUCT, WORKERS = 20, 10, 4
VIEWS = ["front", "back", "left", "right", "top", "bottom", "lens", "mount", "screen", "box"]


@pytest.mark.slow
def test_200_images_with_every_fault_at_20_percent(tmp_path):
    faults = Faults(rate=0.2, upload_rate=0.2, retry_after="0.05", slow_seconds=0.4, seed=2026)
    with FakeShopify(bucket=(400.0, 2000.0), faults=faults) as fake:
        fake.store.fail_first_rate = 0.2  # a file's first processing ends FAILED
        products = [fake.store.add_product(f"Camera {p}", skus=[f"CAM-{p:03d}"]) for p in range(PRODUCTS)]
        jobs = []
        for p in range(PRODUCTS):
            for i, view in enumerate(VIEWS[:PER_PRODUCT]):
                path, sha = tiny_image(tmp_path, f"{p}-{i}.jpg", seed=p * 100 + i)
                jobs.append((request_for(path, sha, f"CAM-{p:03d}", view=view, index=i, job_id=f"{p}-{i}"), MemoryStore()))
        random.Random(1).shuffle(jobs)  # images of one product arrive out of order
        config = shop_config(fake.url, timeout=0.2, poll_interval=0.002, max_retries=6, media_retries=1)
        publisher = Publisher(config, environ={"SHOPIFY_ACCESS_TOKEN": TOKEN})
        retried = []

        def run(job):
            request, ids = job
            for _ in range(10):  # what the daemon does with a transient failure: try the job again
                try:
                    return publisher.publish(request, ids)
                except TransientError as exc:
                    retried.append(type(exc).__name__)
            raise AssertionError(f"job {request.job_id} never published")

        started = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(run, jobs))
        elapsed = time.monotonic() - started

        assert all(isinstance(r, Published) for r in results)
        store = fake.store
        for p, product in enumerate(products):
            expected = sorted((r.filename for r, _ in jobs if r.product_key == f"CAM-{p:03d}"))
            assert store.media_filenames(product) == expected  # each once, in view order
        assert len(store.file_by_id) == PRODUCTS * PER_PRODUCT  # nothing created twice
        by_name = {f.filename: f for f in store.file_by_id.values()}
        for (request, ids), result in zip(jobs, results):
            file = by_name[request.filename]
            progress = ids.progress
            assert progress.file_id == file.id == result.media_id and progress.attached
            assert progress.product_id == result.product_id and progress.published_sha256 == request.image_sha256
            assert file.status == "READY"
        assert fake.stats.invalid == [] and fake.stats.over_cost == []
        assert fake.stats.over_limit == 0
        assert set(KINDS) <= set(fake.stats.faults)
        assert all(f.status == "FAILED" for f in store.deleted)  # only failed files were deleted
        failed_once = sum(1 for _, ids in jobs if ids.progress.failed_files)
        assert failed_once == len(store.deleted) > 0
        duplicates = len(store.file_by_id) - len(jobs)
        print(f"\nbar: {len(jobs)} images in {elapsed:.1f} s, {fake.stats.requests} GraphQL requests, "
              f"{fake.stats.uploads} uploads, faults {dict(sorted(fake.stats.faults.items()))}, "
              f"media FAILED once {failed_once}, job retries {len(retried)}, "
              f"lowest bucket {fake.stats.min_available:.0f}/400, over limit {fake.stats.over_limit}, "
              f"duplicates {duplicates}")

        # A quarter rendered again (a reprocess, a redo, a new scale): the same job, new bytes, same path.
        media = {p.id: list(p.media) for p in products}
        files = dict(store.file_by_id)
        redone = []
        for request, ids in jobs[:50]:
            p, i = map(int, request.job_id.split("-"))
            path, sha = tiny_image(tmp_path, request.image_path.name, seed=10_000 + p * 100 + i, pad=1 + i)
            redone.append((request_for(path, sha, request.product_key, view=request.view, index=request.index,
                                       job_id=request.job_id), ids))
        with ThreadPoolExecutor(WORKERS) as pool:
            again = list(pool.map(run, redone))
        publisher.close()
        assert all(r.replaced for r in again)
        assert {p.id: list(p.media) for p in products} == media and store.file_by_id.keys() == files.keys()
        assert sorted(store.source_updates) == sorted(ids.progress.file_id for _, ids in redone)  # each once
        for request, ids in redone:
            file = store.file_by_id[ids.progress.file_id]
            assert file.content == request.image_path.read_bytes() and file.status == "READY"
            assert ids.progress.published_sha256 == request.image_sha256
        assert fake.stats.over_limit == 0 and fake.stats.invalid == [] and fake.stats.over_cost == []
        print(f"bar, rendered again: {len(redone)} images replaced in place, "
              f"{len(store.source_updates)} fileUpdate originalSource")
