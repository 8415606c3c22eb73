"""``manage.py delete_expired_uploads``: remove incomplete uploads whose expiry has passed.

Unfinished means incomplete, or a tus partial upload that no final upload took (``concatenation.py``).

drf-chunked-upload's name and arguments (``app.Model ...``, ``--interactive``, ``--keep-record``),
plus ``--dry-run``. Bytes are removed with their records (see ``uploads.discard_file_on_delete``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...conf import conf
from ...models import AbstractChunkedUpload, UploadStatus, unfinished_uploads
from ...signals import upload_expired
from ...stores import get_store

YES = {"y", "yes", "ye"}
NO = {"n", "no"}


class Command(BaseCommand):
    help = "Deletes incomplete chunked uploads that have expired."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "models",
            metavar="app.Model",
            nargs="*",
            help="Upload models to clean up (default: every AbstractChunkedUpload subclass).",
        )
        parser.add_argument(
            "-i", "--interactive", action="store_true", help="Ask before each deletion."
        )
        parser.add_argument(
            "-k",
            "--keep-record",
            action="store_true",
            help="Delete only the stored bytes; keep the upload records.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only say what would be deleted."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for model in self.get_models(options["models"]):
            self.process_model(model, options)

    def get_models(self, labels: list[str]) -> list[type[AbstractChunkedUpload]]:
        if not labels:
            return [m for m in apps.get_models() if issubclass(m, AbstractChunkedUpload)]
        models = []
        for label in labels:
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError) as error:
                raise CommandError(f"Unknown model {label!r}: {error}") from None
            if not issubclass(model, AbstractChunkedUpload):
                raise CommandError(f"{label} is not a subclass of AbstractChunkedUpload.")
            models.append(model)
        return models

    def process_model(self, model: type[AbstractChunkedUpload], options: dict[str, Any]) -> None:
        self.stdout.write(f"Processing uploads for model {model._meta.label}...")
        keep_record = options["keep_record"]
        expired = model._default_manager.filter(
            unfinished_uploads(),  # partial uploads no final upload took expire too
            created_at__lte=timezone.now() - conf.expiration_delta,
        )
        if keep_record:
            expired = expired.exclude(file="").exclude(file__isnull=True)
        counts: Counter[str] = Counter()
        for upload in expired.iterator():
            if options["interactive"] and not self.confirm(upload):
                continue
            counts[upload.status] += 1
            if not options["dry_run"]:
                self.delete(upload, keep_record)
        self.report(counts, keep_record, options["dry_run"])

    def delete(self, upload: AbstractChunkedUpload, keep_record: bool) -> None:
        upload_expired.send(sender=type(upload), upload=upload)
        if not keep_record:
            upload.delete()
            return
        if upload.file.name:
            get_store().discard(upload.file.name, upload.store_state)
        type(upload)._default_manager.filter(pk=upload.pk).update(file=None)

    def report(self, counts: Counter[str], keep_record: bool, dry_run: bool) -> None:
        verb = "would be deleted" if dry_run else "were deleted"
        noun = "upload files" if keep_record else "uploads"
        for status, label in UploadStatus.choices:
            self.stdout.write(f"{counts[status]} {str(label).lower()} {noun} {verb}.")

    def confirm(self, upload: AbstractChunkedUpload) -> bool:
        while True:
            answer = input(f"Do you want to delete {upload}? (y/n): ").strip().lower()
            if answer in YES | NO:
                return answer in YES
