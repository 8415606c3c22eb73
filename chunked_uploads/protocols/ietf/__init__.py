"""The IETF resumable-upload draft (``draft-ietf-httpbis-resumable-upload``), interop versions 3, 5,
6 and 8, as an edge over the upload core."""
