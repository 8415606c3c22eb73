"""The client's state file: which upload a local file is being sent to, so another run resumes it."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class FileIdentity:
    """What ties a state file to one version of one file."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        stat = path.stat()
        return cls(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


class StateFile:
    """A small JSON file remembering the upload URL of a file being uploaded."""

    def __init__(
        self, path: str | os.PathLike[str], list_url: str, identity: FileIdentity | None
    ) -> None:
        self.path = Path(path)
        self.list_url = list_url
        self.identity = identity

    def load(self) -> str | None:
        """The saved upload URL, if it belongs to this server and this very file."""
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("list_url") != self.list_url:
            return None
        if self.identity is not None and state.get("file") != vars(self.identity):
            return None
        url = state.get("upload_url")
        return url if isinstance(url, str) else None

    def save(self, upload_url: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {"list_url": self.list_url, "upload_url": upload_url}
        if self.identity is not None:
            state["file"] = vars(self.identity)
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.path)  # never leave a half-written state file

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
