"""The command line: ``python -m chunked_uploads upload FILE --url URL`` (also ``status``, ``abort``).

``upload`` shows a progress bar (rate, ETA) when stderr is a terminal and stays quiet otherwise; it
prints the completed upload as JSON on stdout. Its state file (under ``$XDG_CACHE_HOME``, keyed by
the file and the URL) lets an interrupted run (Ctrl-C, a crash, a lost network) resume when the same
command is run again. Needs ``httpx`` (the ``client`` extra); without it the entry point
(``chunked_uploads.__main__``) says so in one line and exits with status 2, never importing this.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .. import client

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # what shells report for a process ended by SIGINT
SECRET_OPTIONS = ("--user", "--token")
UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}
SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*([kmg]i?)?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``8MiB``, ``512k``, ``1MB``, ``65536`` → bytes (``k``/``M``/``G`` are decimal, ``Ki``... binary)."""
    match = SIZE_PATTERN.match(text)
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8MiB, 512KiB, 1000000)")
    return int(match.group(1)) * UNITS[(match.group(2) or "").lower()]


def human_size(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    units = ["KiB", "MiB", "GiB"]
    size /= 1024
    while size >= 1024 and len(units) > 1:
        size /= 1024
        units.pop(0)
    return f"{size:.1f} {units[0]}"


def human_duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


class ProgressBar:
    """One self-rewriting line on a terminal: percentage, bar, bytes, rate and ETA."""

    WIDTH = 30
    INTERVAL = 0.1  # seconds between redraws: fast enough to look live, cheap on a slow tty

    def __init__(self, stream: IO[str], clock: Any = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.first: int | None = None
        self.drawn_at = -float("inf")  # draw the first call at once

    def __call__(self, sent: int, total: int) -> None:
        now = self.clock()
        if self.first is None:
            self.first, self.started = sent, now  # a resumed upload's rate counts new bytes only
        if sent < total and now - self.drawn_at < self.INTERVAL:
            return
        self.drawn_at = now
        self.stream.write("\r" + self.render(sent, total, now - self.started))
        self.stream.flush()

    def render(self, sent: int, total: int, elapsed: float) -> str:
        fraction = sent / total if total else 1.0
        filled = int(self.WIDTH * fraction)
        rate = (sent - (self.first or 0)) / elapsed if elapsed > 0 else 0.0
        eta = human_duration((total - sent) / rate) if rate > 0 else "-:--:--"
        return (
            f"{100 * fraction:5.1f}% [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{human_size(sent)} / {human_size(total)}  {human_size(rate)}/s  ETA {eta} "
        )

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class RateLimit:
    """Slows the upload to ``rate`` bytes per second by pausing between slices of a chunk."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.started = time.monotonic()
        self.first: int | None = None

    def __call__(self, sent: int, total: int) -> None:
        if self.first is None:
            self.first = sent
        ahead = (sent - self.first) / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


def default_state_file(path: Path, url: str) -> Path:
    """Where the state of uploading ``path`` to ``url`` is kept between runs."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(f"{path.resolve()}\n{url}".encode()).hexdigest()[:32]
    return cache / "chunked-uploads" / f"{key}.json"


def auth_from(args: argparse.Namespace) -> Any:
    """``--user`` first: ``--token`` may come from the environment, ``--user`` only from argv."""
    if args.user:
        user, _, password = args.user.partition(":")
        return (user, password)
    if args.token:
        return client.TokenAuth(args.token)
    return None


def resume_command(argv: Sequence[str]) -> str:
    """The command to run again, with secrets masked."""
    program = sys.argv[0] if sys.argv else "chunked-uploads"
    if Path(program).name == "__main__.py":
        words = ["python", "-m", "chunked_uploads"]
    else:
        words = [Path(program).name]
    masked = list(argv)
    for index, word in enumerate(masked):
        if index > 0 and masked[index - 1] in SECRET_OPTIONS:
            masked[index] = "..."
        elif word.startswith(tuple(f"{option}=" for option in SECRET_OPTIONS)):
            masked[index] = word.split("=", 1)[0] + "=..."
    return shlex.join(words + masked)


def progress_callback(
    args: argparse.Namespace,
) -> tuple[client.Progress | None, ProgressBar | None]:
    bar = ProgressBar(sys.stderr) if args.progress else None
    limit = RateLimit(args.limit_rate) if args.limit_rate else None
    hooks = [hook for hook in (bar, limit) if hook is not None]
    if not hooks:
        return None, None

    def progress(sent: int, total: int) -> None:
        for hook in hooks:
            hook(sent, total)

    return progress, bar


def run_upload(args: argparse.Namespace, argv: Sequence[str]) -> int:
    path = Path(args.file)
    state_file = Path(args.state_file) if args.state_file else default_state_file(path, args.url)
    progress, bar = progress_callback(args)
    try:
        result = client.upload(
            path,
            args.url,
            chunk_size=args.chunk_size,
            auth=auth_from(args),
            checksum=args.checksum,
            field_name=args.field_name,
            progress=progress,
            state_file=state_file,
            multipart=args.multipart,
            retries=args.retries,
            parallel=args.parallel,
        )
    except KeyboardInterrupt:
        if bar is not None:
            bar.finish()
        print(interrupted_message(state_file, argv), file=sys.stderr)
        return EXIT_INTERRUPTED
    if bar is not None:
        bar.finish()
    print(json.dumps(result.data, indent=2))
    return 0


def interrupted_message(state_file: Path, argv: Sequence[str]) -> str:
    try:
        upload_url = json.loads(state_file.read_text())["upload_url"]
    except (OSError, ValueError, KeyError):
        return "Interrupted before the server accepted the first chunk; nothing to resume."
    return (
        f"Interrupted. The upload is kept on the server: {upload_url}\n"
        f"Run the same command again to resume it:\n  {resume_command(argv)}\n"
        f"(or abort it: {resume_command(['abort', upload_url, *credentials(argv)])})"
    )


def credentials(argv: Sequence[str]) -> list[str]:
    words: list[str] = []
    for index, word in enumerate(argv):
        if word in SECRET_OPTIONS and index + 1 < len(argv):
            words += [word, argv[index + 1]]
        elif word.startswith(tuple(f"{option}=" for option in SECRET_OPTIONS)):
            words.append(word)
    return words


def run_status(args: argparse.Namespace, argv: Sequence[str]) -> int:
    record = client.status(args.upload_url, auth=auth_from(args))
    print(json.dumps(record.data, indent=2))
    return 0


def run_abort(args: argparse.Namespace, argv: Sequence[str]) -> int:
    client.abort(args.upload_url, auth=auth_from(args))
    print(f"Aborted {args.upload_url}", file=sys.stderr)
    return 0


def add_auth(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--user", metavar="USER:PASSWORD", help="HTTP Basic credentials")
    group.add_argument(
        "--token",
        default=os.environ.get("CHUNKED_UPLOADS_TOKEN"),
        help="DRF token (default: $CHUNKED_UPLOADS_TOKEN)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chunked-uploads", description="Resumable chunked uploads to a chunked_uploads server."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    upload = commands.add_parser("upload", help="upload a file (resumes an interrupted upload)")
    upload.add_argument("file")
    upload.add_argument("--url", required=True, help="the uploads endpoint, e.g. .../api/uploads/")
    upload.add_argument("--chunk-size", type=parse_size, default=client.DEFAULT_CHUNK_SIZE)
    upload.add_argument(
        "--checksum",
        help="the server's checksum algorithm (default: the one the server names, else md5)",
    )
    upload.add_argument("--multipart", action="store_true", help="send multipart chunks")
    upload.add_argument(
        "--field-name",
        default=client.DEFAULT_FIELD_NAME,
        help="the multipart part's name, the view's field_name (default: file)",
    )
    upload.add_argument("--state-file", help="where to remember the upload (default: a cache)")
    upload.add_argument("--limit-rate", type=parse_size, help="bytes per second, e.g. 2MiB")
    upload.add_argument("--retries", type=int, default=8, help="consecutive retries (8)")
    upload.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="send N chunks at once, each on its own connection (the server's parallel mode)",
    )
    upload.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=sys.stderr.isatty(),
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    add_auth(upload)
    upload.set_defaults(run=run_upload)
    for name, run, text in (
        ("status", run_status, "show an upload (offset, status)"),
        ("abort", run_abort, "abort an upload and remove its bytes"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("upload_url", metavar="URL", help="the upload's URL")
        add_auth(command)
        command.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args, argv)
    except client.UploadError as error:
        print(f"error: {error}" + (f" ({error.code})" if error.code else ""), file=sys.stderr)
        return EXIT_ERROR
    except client.HTTPError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    return code
