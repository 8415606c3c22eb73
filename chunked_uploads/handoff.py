"""``hand_off()``: move a completed upload's file into a ``FileField`` of the project's own model.

Pointing another model's ``FileField`` at the upload's file name would share the bytes, and the
upload record's deletion (``DELETE``, ``delete_expired_uploads``, the admin's abort) would delete
them. ``hand_off()`` gives the bytes to the target field instead, without copying them where the
storage allows it (a hard link on the local store, a server-side copy on S3), and the upload record
stops naming them: deleting it afterwards never touches the handed-off file.

Call it from a completion hook (an ``upload_completed`` receiver or ``on_completion()``), which
runs in the completion's transaction: the upload's own name for the bytes is removed only once
that transaction commits, so a hook that fails after the hand-off leaves the upload as it was,
ready to be completed (and handed off) again, and the completion removes the target's copy that
the rolled-back hook made (``discard_hand_offs``).
"""

from __future__ import annotations

from django.core.files.storage import Storage
from django.db import router, transaction
from django.db.models.fields.files import FieldFile

from .models import AbstractChunkedUpload, UploadStatus
from .stores import get_store


class NotHandedOff(ValueError):
    """The upload has no completed file to hand off (incomplete, or handed off already)."""


def hand_off(upload: AbstractChunkedUpload, target: FieldFile, name: str | None = None) -> str:
    """Give ``upload``'s completed file to ``target`` (say ``document.file``) and return its name.

    The name is the target field's ``upload_to`` applied to ``name`` (default: the file name the
    client sent), made available on the target field's storage. The target's instance is not
    saved: save it in the same hook. The upload record keeps its row, without a file.
    """
    if upload.status != UploadStatus.COMPLETE:
        raise NotHandedOff(f"upload {upload.pk} is not complete")
    source = upload.file.name
    if not source:
        raise NotHandedOff(f"upload {upload.pk} has no file (handed off already?)")
    field = target.field
    wanted = field.generate_filename(target.instance, name or upload.filename)
    store = get_store()
    saved = store.hand_off(source, target.storage, wanted)
    target.name = saved
    _hand_offs(upload).append((target.storage, saved))
    target._committed = True  # type: ignore[attr-defined]  # the bytes are there already
    manager = type(upload)._default_manager
    manager.filter(pk=upload.pk).update(file=None)
    upload.file.name = None
    state = upload.store_state
    using = router.db_for_write(type(upload), instance=upload)
    transaction.on_commit(lambda: store.discard(source, state), using=using)
    return saved


def discard_hand_offs(upload: AbstractChunkedUpload) -> None:
    """Delete the files handed off from ``upload`` by a completion that was rolled back: the
    target's row was never saved, and the upload still names the bytes."""
    for storage, name in _hand_offs(upload):
        storage.delete(name)
    forget_hand_offs(upload)


def forget_hand_offs(upload: AbstractChunkedUpload) -> None:
    """The completion committed: the handed-off files belong to their targets."""
    _hand_offs(upload).clear()


def _hand_offs(upload: AbstractChunkedUpload) -> list[tuple[Storage, str]]:
    """The hand-offs made during the current completion of ``upload`` (in memory: they matter only
    until that completion's transaction ends)."""
    made: list[tuple[Storage, str]] = upload.__dict__.setdefault("_chunked_uploads_hand_offs", [])
    return made
