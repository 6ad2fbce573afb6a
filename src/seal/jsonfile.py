"""Reading user-supplied JSON files with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from seal.errors import DataError


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    # json keeps the last of two equal keys silently: two ARC tasks with one id would become one task
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        raise _RepeatedKey(next(k for k in keys if keys.count(k) > 1))
    return out


def read_json(path: str | Path, what: str = "file"):
    """The parsed JSON at `path`.

    Raises:
        DataError: naming the path, when it is missing, not valid JSON, or has an object with a key twice.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such {what}: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
    except _RepeatedKey as e:
        raise DataError(f"{path}: the key {e.args[0]!r} appears twice in one object") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
