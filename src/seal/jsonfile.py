"""Reading user-supplied JSON files with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from seal.errors import DataError


def read_json(path: str | Path, what: str = "file"):
    """The parsed JSON at `path`. Raises DataError naming the path when it is missing or not valid JSON."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such {what}: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
