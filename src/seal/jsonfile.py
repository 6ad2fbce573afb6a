"""Reading user-supplied JSON files with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from seal.errors import DataError


class _Refused(ValueError):
    """What Python's json accepts but a data file must not hold."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    # json keeps the last of two equal keys silently: two ARC tasks with one id would become one task
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        raise _Refused(f"the key {next(k for k in keys if keys.count(k) > 1)!r} appears twice in one object")
    return out


def _no_constant(name: str):
    # NaN and Infinity are not JSON; Python reads them, and an answer NaN would become the text "nan"
    raise _Refused(f"{name} is not a JSON value")


def read_json(path: str | Path, what: str = "file"):
    """The parsed JSON at `path`.

    Raises:
        DataError: naming the path, when it is missing, not valid JSON (NaN and Infinity included), or has an object
            with a key twice.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such {what}: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys,
                          parse_constant=_no_constant)
    except _Refused as e:
        raise DataError(f"{path}: {e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
