"""Signals sent by the upload core (``uploads.py``); every one has ``sender`` = the model class.

- ``upload_started(upload)``: the first chunk of a new upload was stored.
- ``chunk_received(upload, start, end)``: a chunk was stored and acknowledged (the first one too).
- ``upload_completed(upload)``: the checksum matched and the file was finalized.
- ``upload_aborted(upload)``: a client aborted the upload (``DELETE``); its bytes are being removed.
- ``upload_expired(upload)``: ``delete_expired_uploads`` is removing an expired upload.

One more is sent by each protocol edge (``telemetry.py``), with ``sender`` = the view class:

- ``request_handled(request, protocol, action, status, code, upload_id, user_id, duration)``: a
  request to an upload view was answered (refused ones too: ``status`` >= 400, ``code`` set).
"""

from django.dispatch import Signal

upload_started = Signal()
chunk_received = Signal()
upload_completed = Signal()
upload_aborted = Signal()
upload_expired = Signal()
request_handled = Signal()
