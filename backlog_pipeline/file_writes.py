"""Published files written whole or not at all, and only when their content changes.

One helper for every file people and other jobs read (the KPI documents, the board
pack): written to a temporary file beside it, flushed to disk and renamed into place, so
a reader never sees half a file and a failed close leaves the previous file whole. A file
that already holds exactly the bytes is left alone: an unchanged rerun keeps its
modification time, so whatever watches the folder sees nothing new. Files are 0644 (read
by people and jobs under other accounts), not the 0600 a temporary file starts with.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PUBLISHED_MODE = 0o644


def write_atomically(path: Path, content: bytes) -> bool:
    """Put ``content`` at ``path`` unless it is there already; True when it was written."""
    path = Path(path)
    try:
        if path.read_bytes() == content:
            return False
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, PUBLISHED_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
