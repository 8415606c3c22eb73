"""``python -m chunked_uploads`` and the ``chunked-uploads`` command: the command-line client.

The command itself is ``chunked_uploads.client.cli``. This entry point imports it only once httpx is
known to be there: without the ``client`` extra, the command says what to install in one line
instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_MISSING_DEPENDENCY = 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        import httpx  # noqa: F401
    except ImportError:
        print(
            "error: chunked-uploads needs httpx, which is not installed:"
            f" {sys.executable} -m pip install 'httpx>=0.27'",
            file=sys.stderr,
        )
        return EXIT_MISSING_DEPENDENCY
    from .client.cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
