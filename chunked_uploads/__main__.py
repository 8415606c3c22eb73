"""``python -m chunked_uploads``: the command-line client (see ``chunked_uploads.cli``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())  # without httpx, main() says what to install
