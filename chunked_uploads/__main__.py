"""``python -m chunked_uploads``: the command-line client (see ``chunked_uploads.cli``)."""

import sys

if __name__ == "__main__":
    try:
        from .cli import main
    except ImportError as error:  # httpx missing: say which extra to install, no traceback
        sys.exit(f"error: {error}")
    sys.exit(main())
