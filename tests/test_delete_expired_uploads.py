"""Tests of ``manage.py delete_expired_uploads``: what it deletes, its arguments and its output."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from chunked_uploads import signals, uploads
from chunked_uploads.models import ChunkedUpload, UploadStatus
from chunked_uploads.ranges import ContentRange

from .helpers import file_name

HEADER = "Processing uploads for model chunked_uploads.ChunkedUpload..."


def make_upload(user: Any, age: timedelta, *, complete: bool = False) -> ChunkedUpload:
    """An upload with stored bytes, created ``age`` ago."""
    session = uploads.start(ChunkedUpload, ContentRange.whole(4), "f.bin", {"user": user})
    session.write(b"data")
    upload = session.commit()
    if complete:
        upload = uploads.complete(upload, None)
    created_at = timezone.now() - age
    ChunkedUpload.objects.filter(pk=upload.pk).update(created_at=created_at)
    assert isinstance(upload, ChunkedUpload)
    upload.created_at = created_at
    return upload


def exists(upload: ChunkedUpload) -> bool:
    return bool(upload.file.storage.exists(file_name(upload)))


Run = Callable[..., list[str]]


@pytest.fixture
def run(django_capture_on_commit_callbacks: Any) -> Run:
    """Run the command; its ``on_commit`` callbacks (the file removals) run as if committed."""

    def run(*args: str) -> list[str]:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("delete_expired_uploads", *args, stdout=out)
        return out.getvalue().splitlines()

    return run


@pytest.fixture
def three(user: Any) -> dict[str, ChunkedUpload]:
    return {
        "expired": make_upload(user, timedelta(days=2)),
        "fresh": make_upload(user, timedelta(hours=1)),
        "complete": make_upload(user, timedelta(days=2), complete=True),
    }


def test_deletes_expired_incomplete_uploads_with_their_files(
    three: dict[str, ChunkedUpload], run: Run
) -> None:
    lines = run()
    assert lines == [
        HEADER,
        "1 incomplete uploads were deleted.",
        "0 complete uploads were deleted.",
    ]
    remaining = set(ChunkedUpload.objects.values_list("pk", flat=True))
    assert remaining == {three["fresh"].pk, three["complete"].pk}
    assert not exists(three["expired"])
    assert exists(three["fresh"]) and exists(three["complete"])


def test_expiration_delta_decides_what_is_expired(
    three: dict[str, ChunkedUpload], run: Run
) -> None:
    with override_settings(DRF_CHUNKED_UPLOAD_EXPIRATION_DELTA=timedelta(minutes=30)):
        assert run()[1] == "2 incomplete uploads were deleted."
    assert list(ChunkedUpload.objects.all()) == [three["complete"]]


def test_named_model(three: dict[str, ChunkedUpload], run: Run) -> None:
    assert run("chunked_uploads.ChunkedUpload")[:2] == [
        HEADER,
        "1 incomplete uploads were deleted.",
    ]
    assert not ChunkedUpload.objects.filter(pk=three["expired"].pk).exists()


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("chunked_uploads.NoSuchModel", "Unknown model"),
        ("nosuchapp.Upload", "Unknown model"),
        ("not-a-label", "Unknown model"),
        ("auth.User", "is not a subclass of AbstractChunkedUpload"),
    ],
)
def test_bad_model_argument(
    three: dict[str, ChunkedUpload], run: Run, label: str, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run(label)
    assert ChunkedUpload.objects.count() == 3


def test_keep_record_deletes_only_files(three: dict[str, ChunkedUpload], run: Run) -> None:
    lines = run("--keep-record")
    assert lines == [
        HEADER,
        "1 incomplete upload files were deleted.",
        "0 complete upload files were deleted.",
    ]
    assert ChunkedUpload.objects.count() == 3
    assert not exists(three["expired"])
    assert not ChunkedUpload.objects.get(pk=three["expired"].pk).file
    assert exists(three["fresh"]) and exists(three["complete"])
    # The record without a file is not counted again.
    assert run("-k")[1] == "0 incomplete upload files were deleted."


def test_dry_run_deletes_nothing(three: dict[str, ChunkedUpload], run: Run) -> None:
    lines = run("--dry-run")
    assert lines == [
        HEADER,
        "1 incomplete uploads would be deleted.",
        "0 complete uploads would be deleted.",
    ]
    assert ChunkedUpload.objects.count() == 3
    assert all(exists(upload) for upload in three.values())
    assert run("--dry-run", "--keep-record")[1] == "1 incomplete upload files would be deleted."
    assert all(exists(upload) for upload in three.values())


def test_interactive_asks_for_each_upload(
    user: Any, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    older = make_upload(user, timedelta(days=3))
    newer = make_upload(user, timedelta(days=2))
    answers = iter(["maybe", "YES", "n"])
    questions: list[str] = []

    def answer(prompt: str) -> str:
        questions.append(prompt)
        return next(answers)

    monkeypatch.setattr(builtins, "input", answer)
    lines = run("--interactive")
    assert lines[1] == "1 incomplete uploads were deleted."
    # Newest first (the model's ordering); "maybe" is asked again.
    assert questions == [f"Do you want to delete {newer}? (y/n): "] * 2 + [
        f"Do you want to delete {older}? (y/n): "
    ]
    assert list(ChunkedUpload.objects.all()) == [older]
    assert not exists(newer) and exists(older)


def test_sends_upload_expired(three: dict[str, ChunkedUpload], run: Run) -> None:
    seen: list[Any] = []

    def receiver(sender: Any, upload: Any, **kwargs: Any) -> None:
        seen.append(upload.pk)

    signals.upload_expired.connect(receiver, sender=ChunkedUpload)
    try:
        run()
        run("--dry-run")
    finally:
        signals.upload_expired.disconnect(receiver, sender=ChunkedUpload)
    assert seen == [three["expired"].pk]


def test_nothing_to_do(db: None, run: Run) -> None:
    assert run() == [
        HEADER,
        "0 incomplete uploads were deleted.",
        "0 complete uploads were deleted.",
    ]
    assert str(UploadStatus.UPLOADING.label) == "Incomplete"
