"""tus concatenation without HTTP: a *final* upload made of completed *partial* uploads.

A partial upload is an ordinary upload marked ``Concatenation.PARTIAL``: its bytes arrive as any
upload's, and its completion makes its file but is not announced (no ``upload_completed``, no
completion hook: it is a piece of a file, not a user's file). ``concatenate()`` makes the final
upload on the mechanism of parallel uploads (``parts.py``): an upload in parallel mode of the
partials' total size whose stored ranges are the partials' bytes, which each store adopts
(``ChunkStore.adopt_parts``: the local store copies them into place, a Django storage keeps the
partials' objects as the parts, S3 copies them into parts of a multipart upload). Each adopted
range is acknowledged with the same conditional ``UPDATE`` as a chunk of a parallel upload, then
the final upload completes as any upload does (``uploads.complete()``: the whole file's digest
from the partials' CRC-32Cs or the prefix catching up, the completed file, ``upload_completed``
and the hook, once).

Partials are single-use. The final upload first *claims* them, in one transaction: one
conditional ``UPDATE ... SET concatenated_into = F WHERE pk IN (...) AND concatenated_into IS
NULL``, which must change every row, so of two final uploads naming the same partial one wins and
the other is refused before it touches a byte. Once the final upload is complete, its partials'
bytes are discarded; their records stay, complete and claimed, until they expire (they no longer
count against the quotas). If anything fails before that, the final upload is deleted and its
claim released: the partials are as they were, and a client may send the final upload again.
Sent again after it completed (its answer lost on the way, say), the same request (the same
partials in the same order, owner and fields) gets the same final upload back (``_made_before``).

The final upload is made under its lease, renewed as each partial is adopted and taken on by
completion. So a final upload left unfinished with its lease run out was made by a request that
died (a worker killed mid-way): its claim counts for nothing, and the next final upload naming
its partials deletes it and takes them. A claim held by a final upload that no longer exists
counts for nothing either.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from . import exceptions, parts, uploads
from .combinable_checksums import is_combinable
from .conf import conf
from .models import AbstractChunkedUpload, Concatenation, UploadStatus
from .ranges import ContentRange
from .resumable_digests import is_resumable
from .stores import ChunkStore, PartialBytes, get_store

Upload = TypeVar("Upload", bound=AbstractChunkedUpload)


def concatenate(
    queryset: QuerySet[Upload],
    references: Sequence[tuple[str, Any]],
    owner: Mapping[str, Any],
    *,
    filename: str | None = None,
    fields: Mapping[str, Any] | None = None,
    max_bytes: int | None = None,
    on_complete: Callable[[Upload], Any] | None = None,
) -> Upload:
    """Make and complete the final upload of the partials ``references`` names (``(reference,
    pk)`` pairs, in order; the reference is how errors name a partial), looked up in
    ``queryset`` (the caller's uploads), owned as ``owner`` says."""
    if len(references) > conf.max_concat_partials:
        raise exceptions.ConcatenationRefused(
            f"A final upload takes at most {conf.max_concat_partials} partial uploads"
        )
    pks = [_pk(queryset.model, reference, pk) for reference, pk in references]
    try:
        partials = _partials(queryset, references, pks, owner)
    except (exceptions.PartialUploadNotFound, exceptions.ConcatenationRefused):
        if (made := _made_before(queryset, pks, owner, filename, fields or {})) is None:
            raise
        return made
    claimed = any(partial.concatenated_into is not None for partial in partials)
    if claimed and (made := _made_before(queryset, pks, owner, filename, fields or {})):
        return made
    size = sum(partial.size or 0 for partial in partials)
    if max_bytes is not None and size > max_bytes:
        raise exceptions.SizeLimitExceeded(max_bytes)
    store = get_store()
    final, lease = _create(queryset.model, partials, owner, filename, fields or {}, store)
    try:
        _claim(final, partials)
        _adopt(final, partials, store, lease)
        uploads.complete(final, None, on_complete=on_complete, lease=lease)
    except BaseException as error:
        _release(final)
        uploads.delete_upload(final)
        if isinstance(error, FileNotFoundError):  # a partial's bytes went meanwhile (deleted)
            raise exceptions.StoredBytesMissing() from error
        raise
    for partial in partials:
        _use_up(partial, store)
    return final


def _partials(
    queryset: QuerySet[Upload],
    references: Sequence[tuple[str, Any]],
    pks: Sequence[str],
    owner: Mapping[str, Any],
) -> list[Upload]:
    """The partial uploads, in order, each checked fit to be concatenated."""
    if len(set(pks)) != len(pks):
        raise exceptions.ConcatenationRefused("A final upload lists each partial upload once")
    found = {str(upload.pk): upload for upload in queryset.filter(pk__in=pks)}
    partials = []
    for (reference, _), pk in zip(references, pks, strict=True):
        partial = found.get(pk)
        if partial is None or not _owned(partial, owner):
            raise exceptions.PartialUploadNotFound(reference)
        _check(partial, reference)
        partials.append(partial)
    return partials


def _made_before(
    queryset: QuerySet[Upload],
    pks: Sequence[str],
    owner: Mapping[str, Any],
    filename: str | None,
    fields: Mapping[str, Any],
) -> Upload | None:
    """The completed final upload this request already made, if any: of exactly these partials in
    this order, for this owner, with these fields. It is a retry whose first answer was lost (or
    whose worker died before the partials were used up): it gets that upload again, announced
    once, and any partial of it still holding bytes is used up."""
    if not pks:
        return None
    candidates = queryset.filter(
        concatenation=Concatenation.FINAL, status=UploadStatus.COMPLETE, concat_partials__0=pks[0]
    )
    for made in candidates:
        same = made.concat_partials == list(pks) and _owned(made, owner)
        same = same and (filename is None or made.filename == filename)
        if same and all(getattr(made, name) == value for name, value in fields.items()):
            for leftover in queryset.filter(concatenated_into=made.pk).exclude(file=""):
                _use_up(leftover, get_store())
            return made
    return None


def _use_up(partial: AbstractChunkedUpload, store: ChunkStore) -> None:
    """Discard the bytes of a partial its final upload took; keep its record, still claimed, until
    it expires: a client retrying the final upload asks for its partials (tus-js-client sends a
    ``HEAD`` for each), finds them complete, then gets the final upload again (``_made_before``)."""
    name, state = partial.file.name, partial.store_state
    if name:
        store.discard(name, state)
    type(partial)._default_manager.filter(pk=partial.pk).update(file="", store_state=None)


def _pk(model: type[AbstractChunkedUpload], reference: str, value: Any) -> str:
    """``value`` as the model's primary key; one that cannot be is no upload's."""
    try:
        return str(model._meta.pk.to_python(value))
    except ValidationError:
        raise exceptions.PartialUploadNotFound(reference) from None


def _owned(upload: AbstractChunkedUpload, owner: Mapping[str, Any]) -> bool:
    for name, value in owner.items():
        attname = getattr(upload._meta.get_field(name), "attname", name)
        if getattr(upload, attname) != getattr(value, "pk", value):
            return False
    return True


def _check(partial: AbstractChunkedUpload, reference: str) -> None:
    if partial.concatenation != Concatenation.PARTIAL:
        raise exceptions.ConcatenationRefused(f"{reference} is not a partial upload")
    if partial.expired:
        raise exceptions.ConcatenationRefused(f"{reference} has expired")
    if partial.concatenated_into is not None and partial.size and not partial.file.name:
        raise exceptions.ConcatenationRefused(f"{reference} was used up by another final upload")
    if partial.status != UploadStatus.COMPLETE:
        raise exceptions.ConcatenationRefused(
            f"{reference} is unfinished ({partial.offset} of {partial.size} bytes): "
            "finish the partial uploads first"
        )
    if is_combinable(conf.checksum) and partial.checksum_algorithm != conf.checksum:
        raise exceptions.ConcatenationRefused(
            f"{reference} was uploaded with another checksum ({partial.checksum_algorithm})"
        )


def _create(
    model: type[Upload],
    partials: Sequence[AbstractChunkedUpload],
    owner: Mapping[str, Any],
    filename: str | None,
    fields: Mapping[str, Any],
    store: ChunkStore,
) -> tuple[Upload, uuid.UUID]:
    final = model(
        size=sum(partial.size or 0 for partial in partials),
        checksum_algorithm=conf.checksum,
        parallel=True,
        parts=parts.empty_parts(),
        concatenation=Concatenation.FINAL,
        concat_partials=[str(partial.pk) for partial in partials],
        **owner,
        **fields,
    )
    final.filename = filename or str(final.pk)
    lease = uploads.hold_new(final)
    final.save(force_insert=True)
    try:
        field: Any = final._meta.get_field("file")
        final.file.name = store.create(field.generate_filename(final, final.filename))
        final.store_state = store.begin_adoption(final.file.name, final.size or 0)
        type(final)._default_manager.filter(pk=final.pk).update(
            file=final.file.name, store_state=final.store_state
        )
    except BaseException:
        uploads.delete_upload(final)
        raise
    return final, lease


def _claim(final: AbstractChunkedUpload, partials: Sequence[AbstractChunkedUpload]) -> None:
    """Mark the partials taken by ``final``, all or none (``ConcatenationRefused``)."""
    manager = type(final)._default_manager
    held = {p.concatenated_into for p in partials if p.concatenated_into is not None}
    holders = manager.filter(pk__in=held) if held else manager.none()
    alive = set(holders.exclude(_abandoned()).values_list("pk", flat=True))
    free = Q(concatenated_into__isnull=True) | Q(concatenated_into__in=held - alive)
    pks = [partial.pk for partial in partials]
    with transaction.atomic(using=router.db_for_write(type(final), instance=final)):
        claimed = (
            manager.filter(pk__in=pks, concatenation=Concatenation.PARTIAL)
            .filter(free)
            .update(concatenated_into=final.pk)
        )
        if claimed != len(pks):
            # Roll the rows claimed back: another final upload took one of them first.
            raise exceptions.ConcatenationRefused(
                "A partial upload of this final upload was taken by another final upload"
            )
    for dead in holders.exclude(pk__in=alive):  # abandoned, as classified above
        _release(dead)
        uploads.delete_upload(dead)


def _abandoned() -> Q:
    """Final uploads whose maker died: unfinished, and nobody holds their lease any more."""
    unleased = Q(lease_token__isnull=True) | Q(lease_expires_at__lte=timezone.now())
    return Q(concatenation=Concatenation.FINAL) & ~Q(status=UploadStatus.COMPLETE) & unleased


def _release(final: AbstractChunkedUpload) -> None:
    type(final)._default_manager.filter(concatenated_into=final.pk).update(concatenated_into=None)


def _adopt(
    final: AbstractChunkedUpload,
    partials: Sequence[AbstractChunkedUpload],
    store: ChunkStore,
    lease: uuid.UUID,
) -> None:
    """Make the partials' bytes the final upload's stored ranges, each acknowledged as a chunk."""
    sources, start = [], 0
    for partial in partials:
        if partial.size:
            name = uploads.stored_name(partial)
            sources.append(PartialBytes(start, partial.size, name, _crc(partial)))
        start += partial.size or 0
    prefix = _prefix_digest(final, partials)
    name = uploads.stored_name(final)
    for adopted in store.adopt_parts(name, final.store_state, sources):
        byte_range = ContentRange(adopted.start, adopted.start + adopted.length - 1, final.size)
        token = parts.reserve(final, byte_range)
        fields: dict[str, Any] = {}
        if prefix is not None and adopted.start == 0 and adopted.length == partials[0].size:
            # The first partial's running digest is the final upload's prefix digest: the bytes
            # before the second partial need not be read back.
            fields = {"offset": adopted.length, "digest_state": prefix}
        parts.acknowledge(final, token, byte_range, adopted.record, adopted.crc, **fields)
        uploads.renew_lease(final, lease)  # still making it: its claim is not to be taken


def _crc(partial: AbstractChunkedUpload) -> int | None:
    """The partial's CRC-32C (its recorded checksum), when that is its checksum."""
    if is_combinable(partial.checksum_algorithm) and partial.checksum:
        return int(partial.checksum, 16)
    return None


def _prefix_digest(
    final: AbstractChunkedUpload, partials: Sequence[AbstractChunkedUpload]
) -> bytes | None:
    algorithm = final.checksum_algorithm
    first = partials[0] if partials else None
    if first is None or not first.size or first.checksum_algorithm != algorithm:
        return None
    if not is_resumable(algorithm) or is_combinable(algorithm) or first.digest_state is None:
        return None
    return bytes(first.digest_state)
