"""A first end-to-end pass through APIClient: three chunks, completion, stored bytes."""

from typing import Any

from chunked_uploads.models import ChunkedUpload

from .helpers import md5, stored_bytes, upload_in_chunks


def test_three_chunks_then_complete(api: Any, payload: bytes) -> None:
    response = upload_in_chunks(api, payload)
    url = response.json()["url"]
    response = api.post(url, {"md5": md5(payload).upper()}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "complete"
    upload = ChunkedUpload.objects.get()
    assert upload.file.name.endswith(".done")
    assert stored_bytes(upload) == payload
