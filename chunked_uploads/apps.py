"""App configuration: registers the system checks, the file clean-up on delete, the log lines
(``logs.py``) and, when their packages are installed, the OpenAPI description of the upload views
(``protocols/native/schema.py``, drf-spectacular) and the Prometheus metrics (``metrics.py``, prometheus_client)."""

from __future__ import annotations

import importlib.util

from django.apps import AppConfig, apps
from django.db.models.signals import post_delete
from django.utils.translation import gettext_lazy as _


class ChunkedUploadsConfig(AppConfig):
    name = "chunked_uploads"
    verbose_name = _("Chunked uploads")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)

        if importlib.util.find_spec("drf_spectacular") is not None:
            from .protocols.ietf import schema as ietf_schema  # noqa: F401  (and the IETF one)
            from .protocols.native import schema  # noqa: F401  (registers the OpenAPI extension)
            from .protocols.tus import schema as tus_schema  # noqa: F401  (and the tus one)
        if importlib.util.find_spec("prometheus_client") is not None:
            from . import metrics

            metrics.connect()
        from . import logs
        from .models import AbstractChunkedUpload
        from .uploads import discard_file_on_delete

        logs.connect()

        # Per concrete model, not for every sender: a global receiver would turn off
        # Django's fast deletes for every model of the project.
        for model in apps.get_models():
            if issubclass(model, AbstractChunkedUpload):
                post_delete.connect(
                    discard_file_on_delete, sender=model, dispatch_uid=f"chunked_uploads:{model}"
                )
                post_delete.connect(
                    logs.log_deleted, sender=model, dispatch_uid=f"chunked_uploads.logs:{model}"
                )
