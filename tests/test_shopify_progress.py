"""The publish progress record: JSON both ways, the record earlier releases
kept, and the operations 'booth link' and the flow use."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from integrations.shopify.progress import DictProgressStore, Progress, Replacement, Upload

UPLOAD = Upload(resource_url="https://up/staged/t/cam-1-00-front-0123abcd-4.jpg",
                filename="cam-1-00-front-0123abcd-4.jpg", sha256="0123abcd" + "0" * 56, size=10)


def done_record() -> Progress:
    return (Progress().with_product("gid://shopify/Product/1", "Camera", "gid://shopify/ProductVariant/2")
            .creating(UPLOAD).created("gid://shopify/MediaImage/3")
            .advance(attached=True, detached=("gid://shopify/MediaImage/9",), variant_media="assigned", reordered=True))


def test_a_record_goes_through_json_unchanged_with_its_version():
    record = done_record().replacing(Replacement(resource_url="https://up/x", sha256="f" * 64, size=12, pending=True))
    data = json.loads(json.dumps(record.to_dict()))
    assert data["version"] == 2 and data["product_id"] == "gid://shopify/Product/1"
    assert data["file_id"] == "gid://shopify/MediaImage/3"
    assert Progress.from_dict(data) == record


def test_the_flow_steps_record_what_they_did():
    record = Progress().creating(UPLOAD)
    assert record.file_pending and record.file_name == UPLOAD.filename and record.upload == UPLOAD
    record = record.created("gid://shopify/MediaImage/3")
    assert not record.file_pending and record.upload is None
    assert record.published_sha256 == UPLOAD.sha256 and record.published_size == 10
    assert record.holds(UPLOAD.sha256) and not record.holds("f" * 64)


def test_reset_after_product_starts_the_product_steps_over_and_keeps_the_file():
    record = done_record().needing_review([{"id": "gid://shopify/Product/5"}]).reset_after_product()
    assert record.product_id == "gid://shopify/Product/1"
    assert (record.product_title, record.variant_id, record.candidates) == (None, None, ())
    assert not record.attached and record.detached is None and record.variant_media is None and not record.reordered
    assert record.file_id == "gid://shopify/MediaImage/3" and record.holds(UPLOAD.sha256)
    linked = record.with_product("gid://shopify/Product/7", "Other")
    assert (linked.product_id, linked.product_title) == ("gid://shopify/Product/7", "Other")


def test_a_failed_file_is_counted_once_and_discarding_it_starts_over_from_the_upload():
    record = done_record().file_failed("gid://shopify/MediaImage/3", "bad").file_failed("gid://shopify/MediaImage/3", "bad")
    assert record.failed_files == ("gid://shopify/MediaImage/3",) and record.media_error == "bad"
    gone = record.file_discarded()
    assert gone.file_id is None and gone.published_sha256 is None and not gone.attached and not gone.reordered
    assert gone.failed_files == record.failed_files and gone.product_id == record.product_id


LEGACY_DONE = {
    "product_id": "gid://shopify/Product/1", "variant_id": "gid://shopify/ProductVariant/2",
    "product_title": "Camera", "candidates": "", "staged_resource_url": "https://up/staged/t/cam-1-00-front-0123abcd.jpg",
    "file_pending": "cam-1-00-front-0123abcd.jpg", "file_id": "gid://shopify/MediaImage/3",
    "attach_pending": "gid://shopify/MediaImage/3", "attached": "gid://shopify/MediaImage/3", "replaced": "-",
    "variant_pending": "gid://shopify/ProductVariant/2 gid://shopify/MediaImage/3",
    "variant_media": "gid://shopify/ProductVariant/2", "reordered": "1",
    "failed_files": "gid://shopify/MediaImage/8,gid://shopify/MediaImage/9", "media_error": "IMAGE_PROCESSING_FAILURE",
}


def test_a_finished_legacy_record_reads_as_finished():
    record = Progress.from_dict(LEGACY_DONE)
    assert record.published and record.detached == () and record.variant_media == "assigned" and record.reordered
    assert not (record.file_pending or record.attach_pending or record.variant_pending)
    assert record.upload is None and record.file_name == "cam-1-00-front-0123abcd.jpg"
    assert record.failed_files == ("gid://shopify/MediaImage/8", "gid://shopify/MediaImage/9")
    assert record.holds("0123abcd" + "e" * 56) and not record.holds("99999999" + "e" * 56)  # from the name


@pytest.mark.parametrize("legacy, expected", [
    ({}, Progress()),
    ({"product_id": "", "candidates": '[{"id": "gid://shopify/Product/5", "title": "Kit"}]'},
     Progress(candidates=({"id": "gid://shopify/Product/5", "title": "Kit"},))),
    ({"product_id": "p", "staged_resource_url": "https://up/staged/t/a-00-x-12345678.jpg"},
     Progress(product_id="p", upload=Upload(resource_url="https://up/staged/t/a-00-x-12345678.jpg",
                                            filename="a-00-x-12345678.jpg"))),
    ({"product_id": "p", "staged_resource_url": "https://up/s/a.jpg", "file_pending": "a-00-x-12345678.jpg"},
     Progress(product_id="p", upload=Upload(resource_url="https://up/s/a.jpg", filename="a-00-x-12345678.jpg"),
              file_name="a-00-x-12345678.jpg", file_pending=True)),
    ({"product_id": "p", "file_id": "f", "file_pending": "n.jpg", "attach_pending": "f"},
     Progress(product_id="p", file_id="f", file_name="n.jpg", attach_pending=True)),
    ({"product_id": "p", "file_id": "f", "attached": "f", "replaced": "a,b", "variant_media": "-"},
     Progress(product_id="p", file_id="f", attached=True, detached=("a", "b"), variant_media="skipped")),
    ({"product_id": "p", "file_id": "", "staged_resource_url": "", "file_pending": "", "failed_files": "x"},
     Progress(product_id="p", failed_files=("x",))),
    ({"candidates": "not json"}, Progress()),
])
def test_legacy_records_in_every_state_read_as_the_same_progress(legacy, expected):
    assert Progress.from_dict(legacy) == expected


def test_a_record_from_a_newer_release_or_a_broken_one_is_refused_by_name():
    with pytest.raises(ValueError, match="version 3"):
        Progress.from_dict({"version": 3})
    with pytest.raises(ValidationError, match="attached"):
        Progress.from_dict({"version": 2, "attached": "maybe"})
    with pytest.raises(ValidationError, match="colour"):
        Progress.from_dict({"version": 2, "colour": "red"})


def test_the_dict_store_reads_and_writes_through_the_callables():
    row: dict = {"data": dict(LEGACY_DONE)}
    store = DictProgressStore(lambda: row["data"], lambda data: row.update(data=data))
    record = store.load()
    store.save(record.reset_after_product())
    assert row["data"]["version"] == 2 and row["data"]["attached"] is False
    assert store.load() == record.reset_after_product()
