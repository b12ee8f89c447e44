"""The publish flow against the fake: end states on the shop and in the journal."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from integrations.shopify.config import PublishParams
from integrations.shopify.errors import AmbiguousError, MediaFailed, PublishError, TransientError
from integrations.shopify.media import Media, alt_text, plan_moves
from integrations.shopify.progress import Progress
from integrations.shopify.publish import NeedsReview, Published, Publisher
from tests.fake_shopify import FakeShopify
from tests.fake_shopify.testing import ANY, TOKEN, Crash, CrashAfter, MemoryStore, request_for, shop_config, tiny_image

ENV = {"SHOPIFY_ACCESS_TOKEN": TOKEN}


@pytest.fixture
def fake():
    with FakeShopify() as shop:
        yield shop


def publisher(fake, **changes) -> Publisher:
    return Publisher(shop_config(fake.url, **changes), environ=ENV)


def one_image(tmp_path, key="CAM-331", view="front", index=0, seed=0, **kw):
    path, sha = tiny_image(tmp_path, f"{key}-{view}-{seed}.jpg", seed)
    return request_for(path, sha, key, view=view, index=index, **kw)


def attached_once(fake, product, request) -> str:
    """The file for ``request`` exists once in the shop and is on ``product`` once."""
    name = request.filename
    files = [f for f in fake.store.file_by_id.values() if f.filename.startswith(name.rsplit(".", 1)[0])]
    assert len(files) == 1, [f.filename for f in files]
    assert fake.store.media_filenames(product).count(name) == 1
    return files[0].id


def test_publishes_one_image_and_records_each_step_in_order(fake, tmp_path):
    product = fake.store.add_product("Sony A7 IV", skus=["CAM-331"])
    request = one_image(tmp_path)
    store = MemoryStore()
    result = publisher(fake).publish(request, store)
    assert result == Published(product.id, attached_once(fake, product, request))
    first = {name: next(i for i, p in enumerate(store.saves) if getattr(p, name))
             for name in ("product_id", "upload", "file_id", "attached", "reordered")}
    assert first["product_id"] < first["upload"] < first["file_id"] < first["attached"] < first["reordered"]
    done = store.progress
    assert done.file_id == result.media_id and done.published_sha256 == request.image_sha256
    assert store.data["version"] == 2 and store.data["product_id"] == product.id
    assert fake.store.file_by_id[result.media_id].alt == "Sony A7 IV - front"
    assert fake.stats.invalid == []


def test_the_filename_is_deterministic(tmp_path):
    request = one_image(tmp_path, key="sony a7iv #331", view="Front Left", index=2)
    assert request.filename == f"sony-a7iv-331-02-front-left-{request.image_sha256[:8]}-1.jpg"  # job 1
    assert request.filename == request.filename


def test_images_arriving_out_of_order_end_in_view_order(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    fake.store.add_foreign_image(product, "hand-made.jpg")
    pub = publisher(fake)
    views = ["front", "back", "left", "right"]
    requests = [one_image(tmp_path, "CAM-1", v, i, seed=i) for i, v in enumerate(views)]
    for request in [requests[2], requests[3], requests[0], requests[1]]:
        pub.publish(request, MemoryStore())
    assert fake.store.media_filenames(product) == [r.filename for r in requests] + ["hand-made.jpg"]


def test_plan_moves_only_moves_what_is_out_of_place():
    media = [Media("a", "p-01-x-00000000.jpg", "01-x", 1), Media("f", "foreign.jpg"),
             Media("b", "p-00-y-00000000.jpg", "00-y", 0)]
    assert plan_moves(media) == [{"id": "b", "newPosition": "0"}]  # 'a' is then in place already
    assert plan_moves([media[1], media[0], media[2]]) == [{"id": "b", "newPosition": "0"}, {"id": "a", "newPosition": "1"}]
    assert plan_moves([media[2], media[0], media[1]]) == []


def test_exact_sku_match_wins_over_fuzzy_search_hits(fake, tmp_path):
    fake.store.add_product("Kit", skus=["CAM-10"])
    product = fake.store.add_product("Body", skus=["CAM-1"])
    result = publisher(fake).publish(one_image(tmp_path, "CAM-1"), MemoryStore())
    assert result.product_id == product.id


def test_no_match_needs_review_with_the_near_misses_listed(fake, tmp_path):
    near = fake.store.add_product("Kit", skus=["CAM-10"])
    result = publisher(fake).publish(one_image(tmp_path, "CAM-1"), ids := MemoryStore())
    assert isinstance(result, NeedsReview) and "no product" in result.reason
    assert [c["id"] for c in result.candidates] == [near.id]
    assert ids.progress.product_id is None and fake.stats.by_operation.get("fileCreate") is None
    assert [c["id"] for c in ids.progress.candidates] == [near.id]  # kept in the journal for 'booth link'


def test_an_empty_product_key_needs_review_without_matching_skuless_variants(fake, tmp_path):
    fake.store.add_product("No SKU")
    result = publisher(fake).publish(one_image(tmp_path, " "), MemoryStore())
    assert isinstance(result, NeedsReview) and "no product key" in result.reason
    assert fake.stats.requests == 0


def test_several_products_with_the_key_need_review(fake, tmp_path):
    a = fake.store.add_product("Body A", skus=["CAM-7"])
    b = fake.store.add_product("Body B", skus=["CAM-7"])
    result = publisher(fake).publish(one_image(tmp_path, "CAM-7"), MemoryStore())
    assert isinstance(result, NeedsReview) and "2 products" in result.reason
    assert {c["id"] for c in result.candidates} == {a.id, b.id}
    assert {c["sku"] for c in result.candidates} == {"CAM-7"}


def test_lookup_by_barcode(fake, tmp_path):
    product = fake.store.add_product("Lens", skus=["L-1"], barcodes=["4548736132610"])
    params = PublishParams(lookup="barcode")
    assert publisher(fake).publish(one_image(tmp_path, "4548736132610", params=params), MemoryStore()).product_id == product.id


def test_lookup_by_title_and_serial(fake, tmp_path):
    fake.store.add_product("Sony A7IV #332", skus=["U-332"])
    product = fake.store.add_product("Sony A7IV #331", skus=["U-331"])
    fake.store.add_product("Sony A7IV body", skus=["SONY-A7IV"])
    params = PublishParams(lookup="title-serial")
    result = publisher(fake).publish(one_image(tmp_path, "sony a7iv #331", params=params), MemoryStore())
    assert result.product_id == product.id
    missing = publisher(fake).publish(one_image(tmp_path, "sony a7iv #999", params=params), MemoryStore())
    assert isinstance(missing, NeedsReview) and len(missing.candidates) == 3


def test_a_linked_product_skips_the_lookup(fake, tmp_path):
    product = fake.store.add_product("Unsearchable")
    ids = MemoryStore(Progress().with_product(product.id).to_dict())
    result = publisher(fake).publish(one_image(tmp_path, "whatever"), ids)
    assert result.product_id == product.id and "productVariants" not in fake.stats.by_operation
    assert fake.store.file_by_id[result.media_id].alt == "Unsearchable - front"


@pytest.mark.parametrize("dry", ["flag", "disabled"])
def test_dry_run_calls_nothing(fake, tmp_path, dry):
    config = shop_config(fake.url, enabled=dry == "flag")
    with capture_logs() as logs:
        result = Publisher(config, environ={}, dry_run=dry == "flag").publish(one_image(tmp_path), MemoryStore())
    assert result.dry_run and fake.stats.requests == 0 and fake.stats.uploads == 0
    assert any(e["event"] == "shopify.dry_run" and e["filename"].startswith("cam-331-00-front-") for e in logs)


@pytest.mark.parametrize("step", ["product_id", "upload", "file_pending", "file_id",
                                  "attach_pending", "attached", "detached", "reordered"])
def test_a_restart_after_any_step_resumes_without_duplicates(fake, tmp_path, step):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    pub = publisher(fake)
    pub.publish(one_image(tmp_path, "CAM-1", "back", 1, seed=1), MemoryStore())
    request = one_image(tmp_path, "CAM-1", "front", 0, seed=2, params=PublishParams(replace="replace-same-view"))
    ids = CrashAfter(step)
    with pytest.raises(Crash):
        pub.publish(request, ids)
    result = publisher(fake).publish(request, ids)  # a fresh process, the same journal
    assert result.media_id == attached_once(fake, product, request)
    assert fake.store.media_filenames(product)[0] == request.filename
    assert len(fake.store.file_by_id) == 2


@pytest.mark.parametrize("fault", ["drop", "slow", "502"])
@pytest.mark.parametrize("operation", ["fileCreate", "fileUpdate", "productReorderMedia", "stagedUploadsCreate"])
def test_an_ambiguous_mutation_is_looked_up_before_it_is_sent_again(fake, tmp_path, fault, operation):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    pub = publisher(fake, timeout=0.25)
    fake.faults.slow_seconds = 0.5
    pub.publish(one_image(tmp_path, "CAM-1", "back", 1, seed=1), MemoryStore())
    fake.inject(fault, operation)
    request = one_image(tmp_path, "CAM-1", "front", 0, seed=2)
    ids = MemoryStore()
    result = pub.publish(request, ids)
    assert result.media_id == attached_once(fake, product, request) == ids.progress.file_id
    assert ids.progress.attached
    assert fake.store.media_filenames(product)[0] == request.filename
    assert len(fake.store.file_by_id) == 2


def test_when_the_lookup_also_fails_the_next_attempt_finds_the_file(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    request = one_image(tmp_path, "CAM-1")
    fake.inject("drop", "fileCreate")
    fake.inject("502", "files", times=20)
    ids = MemoryStore()
    with pytest.raises(TransientError) as caught:
        publisher(fake, max_retries=1).publish(request, ids)
    assert not caught.value.permanent and ids.progress.file_pending and not ids.progress.file_id
    fake.faults.forced.clear()
    result = publisher(fake).publish(request, ids)
    assert result.media_id == attached_once(fake, product, request)
    assert fake.stats.by_operation["fileCreate"] == 1


def test_ambiguity_that_never_clears_stays_transient(fake, tmp_path):
    fake.store.add_product("Camera", skus=["CAM-1"])
    fake.inject("502", "fileCreate", times=10)
    with pytest.raises(AmbiguousError):
        publisher(fake, step_retries=2).publish(one_image(tmp_path, "CAM-1"), MemoryStore())
    assert fake.stats.by_operation["fileCreate"] == 3


def test_media_that_fails_once_is_deleted_and_created_again(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    fake.store.fail_first_rate = 1.0
    request = one_image(tmp_path, "CAM-1")
    ids = MemoryStore()
    result = publisher(fake).publish(request, ids)
    assert result.media_id == attached_once(fake, product, request)
    [failed] = fake.store.deleted  # Shopify takes no new bytes into a FAILED file: it had to go
    assert failed.status == "FAILED" and failed.id != result.media_id
    assert ids.progress.failed_files == (failed.id,) and fake.store.file_by_id[result.media_id].status == "READY"
    assert fake.stats.by_operation["fileCreate"] == 2 and fake.stats.invalid == []


@pytest.mark.parametrize("field, value", [("failed_files", ANY), ("file_id", None)])
def test_a_crash_while_replacing_a_failed_file_neither_loses_nor_double_spends_the_retry(fake, tmp_path, field, value):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    fake.store.fail_first_rate = 1.0
    request = one_image(tmp_path, "CAM-1")
    ids = CrashAfter(field, value)
    with pytest.raises(Crash):
        publisher(fake).publish(request, ids)
    result = publisher(fake, media_retries=1).publish(request, ids)  # one retry: spent once, not twice
    assert result.media_id == attached_once(fake, product, request)
    assert len(fake.store.deleted) == 1 and ids.progress.failed_files == (fake.store.deleted[0].id,)
    assert fake.stats.by_operation["fileCreate"] == 2


def test_media_that_fails_again_after_its_retry_is_permanent(fake, tmp_path):
    fake.store.add_product("Camera", skus=["CAM-1"])
    request = one_image(tmp_path, "CAM-1")
    fake.store.fail_media.add(request.filename)
    ids = MemoryStore()
    with pytest.raises(MediaFailed):
        publisher(fake, media_retries=1).publish(request, ids)
    assert len(fake.store.deleted) == 1 and fake.stats.by_operation["fileCreate"] == 2
    assert len(ids.progress.failed_files) == 1


def test_media_that_keeps_failing_is_permanent_with_shopifys_message(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    request = one_image(tmp_path, "CAM-1")
    fake.store.fail_media.add(request.filename)
    ids = MemoryStore()
    with pytest.raises(MediaFailed) as caught:
        publisher(fake).publish(request, ids)
    assert caught.value.permanent and "Image could not be processed" in ids.progress.media_error
    assert "Image could not be processed" in str(caught.value) and "IMAGE_PROCESSING_FAILURE" in str(caught.value)
    assert fake.store.media_filenames(product) == []


@pytest.mark.parametrize("policy, expected", [
    ("append", ["00-front-new", "00-front-old", "01-back", "foreign"]),
    ("replace-same-view", ["00-front-new", "01-back", "foreign"]),
    ("replace-all", ["00-front-new", "01-back"]),
])
def test_replace_policies(fake, tmp_path, policy, expected):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    fake.store.add_foreign_image(product, "foreign.jpg")
    pub = publisher(fake)
    params = PublishParams(replace=policy)
    old = one_image(tmp_path, "CAM-1", "front", 0, seed=1, params=params)
    back = one_image(tmp_path, "CAM-1", "back", 1, seed=2, params=params)
    new = one_image(tmp_path, "CAM-1", "front", 0, seed=3, params=params)
    for request in (old, back, new):
        pub.publish(request, MemoryStore())
    names = {old.filename: "00-front-old", back.filename: "01-back",
             new.filename: "00-front-new", "foreign.jpg": "foreign"}
    shown = [names[n] for n in fake.store.media_filenames(product)]
    assert sorted(shown) == sorted(expected) and shown[-1] == expected[-1]
    assert shown.index("00-front-new") < shown.index("01-back")


@pytest.mark.parametrize("fault", [None, "drop"])
def test_assign_variant_attaches_the_image_to_the_matched_variant_once(fake, tmp_path, fault):
    product = fake.store.add_product("Lens", skus=["L-1", "L-2"])
    if fault:
        fake.inject(fault, "productVariantAppendMedia")
    request = one_image(tmp_path, "L-2", params=PublishParams(assign_variant=True))
    ids = MemoryStore()
    result = publisher(fake).publish(request, ids)
    assert product.variants[1].media == [result.media_id] and product.variants[0].media == []
    assert ids.progress.variant_media == "assigned"


def test_alt_text_template_fills_known_fields_and_blanks_unknown_ones():
    assert alt_text("{title} - {view} ({colour})", {"title": "Lens", "view": "front"}) == "Lens - front ()"
    assert alt_text("{title} - {view}", {"title": "Lens", "view": ""}) == "Lens"
    assert alt_text("{title} {condition}", {"title": "Lens", "condition": "mint"}) == "Lens mint"


@pytest.mark.parametrize("mutation, code", [("fileUpdate", "FILE_LOCKED"),
                                            ("productReorderMedia", "MEDIA_CANNOT_BE_MODIFIED"),
                                            ("productVariantAppendMedia", "NON_READY_MEDIA")])
def test_a_user_error_saying_shopify_is_busy_is_transient_and_a_later_attempt_finishes(fake, tmp_path,
                                                                                      mutation, code):
    product = fake.store.add_product("Lens", skus=["L-1"])
    pub = publisher(fake)
    pub.publish(one_image(tmp_path, "L-1", "back", 1, seed=1), MemoryStore())  # so the next image needs a reorder
    fake.store.refuse(mutation, code)
    request = one_image(tmp_path, "L-1", params=PublishParams(assign_variant=True))
    ids = MemoryStore()
    with pytest.raises(TransientError) as caught:
        pub.publish(request, ids)
    assert not caught.value.permanent and code in str(caught.value)
    result = pub.publish(request, ids)  # what the worker does later
    assert result.media_id == attached_once(fake, product, request)
    assert fake.store.media_filenames(product)[0] == request.filename
    assert product.variants[0].media == [result.media_id]


def test_other_user_errors_stay_permanent(fake, tmp_path):
    fake.store.add_product("Camera", skus=["CAM-1"])
    fake.store.refuse("fileUpdate", "INVALID")
    with pytest.raises(PublishError) as caught:
        publisher(fake).publish(one_image(tmp_path, "CAM-1"), MemoryStore())
    assert caught.value.permanent


def test_a_new_file_is_found_after_an_ambiguous_create_even_under_many_older_files(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    request = one_image(tmp_path, "CAM-1")
    stem = request.filename[:-len("00000000-1.jpg")]
    for n in range(60):  # earlier shoots of this view: the fuzzy search finds them all, oldest first
        fake.store.add_file(f"{stem}{n:08x}.jpg")
    fake.inject("drop", "fileCreate")
    ids = MemoryStore()
    result = publisher(fake).publish(request, ids)
    assert result.media_id == attached_once(fake, product, request) == ids.progress.file_id
    assert fake.stats.by_operation["fileCreate"] == 1


def test_a_variant_append_applied_before_a_crash_is_not_sent_again(fake, tmp_path):
    product = fake.store.add_product("Lens", skus=["L-1", "L-2"])
    request = one_image(tmp_path, "L-2", params=PublishParams(assign_variant=True))
    fake.inject("drop", "productVariantAppendMedia")  # Shopify applies it; the answer never comes
    fake.inject("502", "productVariant", times=20)    # and the look-up cannot tell
    ids = MemoryStore()
    with pytest.raises(TransientError):
        publisher(fake, max_retries=1).publish(request, ids)
    assert product.variants[1].media and ids.progress.variant_pending and not ids.progress.variant_media
    fake.faults.forced.clear()
    result = publisher(fake).publish(request, ids)  # a fresh process, the same journal
    assert product.variants[1].media == [result.media_id]
    assert ids.progress.variant_media == "assigned"
    assert fake.stats.by_operation["productVariantAppendMedia"] == 1


def test_a_variant_that_already_has_other_media_keeps_it_and_the_image_is_still_published(fake, tmp_path):
    product = fake.store.add_product("Lens", skus=["L-1"])
    params = PublishParams(assign_variant=True)
    first = publisher(fake).publish(one_image(tmp_path, "L-1", "front", 0, seed=1, params=params), MemoryStore())
    request = one_image(tmp_path, "L-1", "back", 1, seed=2, params=params)
    ids = MemoryStore()
    with capture_logs() as logs:
        result = publisher(fake).publish(request, ids)
    assert isinstance(result, Published) and result.media_id == attached_once(fake, product, request)
    assert product.variants[0].media == [first.media_id]  # one media item per variant: the first stays
    assert ids.progress.variant_media == "skipped"
    assert any(e["event"] == "shopify.variant_has_media" for e in logs)


def test_replace_all_keeps_videos_and_3d_models(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    fake.store.add_foreign_image(product, "hand-made.jpg")
    video = fake.store.add_foreign_image(product, "review.mp4", kind="VIDEO")
    model = fake.store.add_foreign_image(product, "camera.glb", kind="MODEL_3D")
    request = one_image(tmp_path, "CAM-1", params=PublishParams(replace="replace-all"))
    publisher(fake).publish(request, MemoryStore())
    assert fake.store.media_filenames(product) == [request.filename, video.filename, model.filename]


def test_a_product_with_more_media_than_one_page_is_read_whole(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    for n in range(120):
        fake.store.add_foreign_image(product, f"hand-made-{n}.jpg")
    request = one_image(tmp_path, "CAM-1")
    publisher(fake).publish(request, MemoryStore())  # attached last, at 121: only a full listing sees it
    assert fake.store.media_filenames(product)[0] == request.filename
    assert fake.stats.over_cost == []


def test_title_serial_finds_a_serial_on_a_later_variant(fake, tmp_path):
    fake.store.add_product("Sony A7IV kit", skus=[f"K-{n}" for n in range(30)])
    product = fake.store.add_product("Sony A7IV kit", skus=[f"S-{n}" for n in range(25)] + ["U-331"])
    params = PublishParams(lookup="title-serial")
    result = publisher(fake).publish(one_image(tmp_path, "sony a7iv kit #331", params=params), MemoryStore())
    assert isinstance(result, Published) and result.product_id == product.id


def test_a_reorder_job_that_never_finishes_is_transient_and_not_recorded(fake, tmp_path):
    product = fake.store.add_product("Camera", skus=["CAM-1"])
    pub = publisher(fake, poll_timeout=0.2)
    pub.publish(one_image(tmp_path, "CAM-1", "back", 1, seed=1), MemoryStore())
    fake.store.stuck_jobs = True
    request = one_image(tmp_path, "CAM-1", "front", 0, seed=2)
    ids = MemoryStore()
    with pytest.raises(TransientError, match="not done"):
        pub.publish(request, ids)
    assert not ids.progress.reordered
    fake.store.stuck_jobs = False
    pub.publish(request, ids)
    assert ids.progress.reordered and fake.store.media_filenames(product)[0] == request.filename
