"""Signals sent by the upload core (``uploads.py``); every one has ``sender`` = the model class.

- ``upload_started(upload)``: the first chunk of a new upload was stored.
- ``chunk_received(upload, start, end)``: a chunk was stored and acknowledged (the first one too).
- ``upload_completed(upload)``: the checksum matched and the file was finalized.
- ``upload_aborted(upload)``: a client aborted the upload (``DELETE``); its bytes are being removed.
- ``upload_expired(upload)``: ``delete_expired_uploads`` is removing an expired upload.
"""

from django.dispatch import Signal

upload_started = Signal()
chunk_received = Signal()
upload_completed = Signal()
upload_aborted = Signal()
upload_expired = Signal()
