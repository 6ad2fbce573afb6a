"""Reading user-supplied JSON files, and writing a run's JSON files, with one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

from seal.errors import DataError, StorageError


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


def _finite(text: str) -> float:
    # 1e400 is valid JSON that Python reads as inf: an answer would become the text "inf"
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text} is out of range (not a finite double)")
    return value


def read_json(path: str | Path, what: str = "file"):
    """The parsed JSON at `path`.

    Raises:
        DataError: naming the path, when it is missing, not UTF-8, not valid JSON (NaN and Infinity included), has a
            number past a double's range (1e400), an object with a key twice, or is nested too deeply to read.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such {what}: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys,
                          parse_constant=_no_constant, parse_float=_finite)
    except _Refused as e:
        raise DataError(f"{path}: {e}") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except RecursionError:  # json reads arrays and objects recursively: [[[[...]]]] thousands deep
        raise DataError(f"{path}: not valid JSON (nested too deeply)") from None


def finite_or_none(value):
    """A copy of a JSON-like `value` (dicts, lists, tuples, numbers, strings) with every NaN and infinity replaced by
    None, so that it can be written as strict JSON (`json.dumps(..., allow_nan=False)`): a mean over nothing or a
    diverged loss is then `null`, which every JSON reader takes, rather than Python's bare `NaN`, which none does."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def write_json(path: str | Path, value, **dump_options) -> None:
    """Write `value` as JSON (indented by 2; `dump_options` go to `json.dumps`) to `path`, atomically: a temporary
    file renamed over it, so a failed write leaves the previous file or none, never a truncated one. The JSON is
    strict: NaN and infinity are written as null (`finite_or_none`).

    Raises:
        StorageError: naming `path`, when it cannot be written (a full disk, a file size limit).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(finite_or_none(value), allow_nan=False, **({"indent": 2} | dump_options)))
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise StorageError.writing(e, path) from None
