"""A Python client for the chunked upload protocol: create, append, resume, complete.

``upload(path, url)`` sends a file in chunks to an upload server (the list URL, such as
``https://host/api/uploads/``) and returns the completed upload. It survives interruptions: on a
network error, a 5xx or a 409 ``upload_busy`` it waits (exponential backoff), asks the server for the
offset (``GET``) and goes on from there; an ``offset_mismatch`` answer's ``expected_offset`` is
honoured. With a ``state_file`` it also survives the process: the upload's URL is saved with the
file's identity (path, size, mtime), and the next call with the same file resumes that upload.

The whole file's checksum is computed while the chunks are acknowledged (never by a second pass,
except over the already-uploaded prefix when resuming in a new process), with the algorithm the
server names in its first answer (``checksum_algorithm``; md5 for a server that names none).

Needs ``httpx`` (the ``client`` extra, or ``pip install httpx``). The client imports nothing from
the server side (no Django, no Django REST framework): it runs on any machine with Python and httpx.
Its modules: ``http`` (httpx, the server's answers and errors, token auth), ``state`` (the state
file), ``uploader`` (the upload itself) and ``cli`` (the command line, ``chunked-uploads``).
"""

from __future__ import annotations

from .http import HTTPError, TokenAuth, Upload, UploadError
from .state import FileIdentity, StateFile
from .uploader import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_FIELD_NAME,
    ChunkedUploader,
    Progress,
    abort,
    status,
    upload,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_FIELD_NAME",
    "ChunkedUploader",
    "FileIdentity",
    "HTTPError",
    "Progress",
    "StateFile",
    "TokenAuth",
    "Upload",
    "UploadError",
    "abort",
    "status",
    "upload",
]
