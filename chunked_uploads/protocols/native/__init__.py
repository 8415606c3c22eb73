"""The native protocol (drf-chunked-upload's contract): a DRF ViewSet, its router, parsers,
serializers and the table that answers the core's errors with the protocol's statuses and texts."""
