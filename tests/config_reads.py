"""Which options of a config the code reads: inside `with recording() as reads:`, `reads.watch(cfg)` returns `cfg`
with every section a distinct object (`unshared`), and from then on `reads.read` collects the dotted keys
(`ttt.lora.r`) whose values are taken from its sections, by any thread of this process.

Reads that use no value are not counted: a section's own checks (`__post_init__`, `check_ranges`, on `cfg` or on a
copy made by `dataclasses.replace`), copying (`dataclasses.replace` reads every field it keeps), serialising
(`dataclasses.asdict`, hence `config.to_dict`), and the generated `__eq__`, `__hash__` and `__repr__`. A copy made by
`dataclasses.replace` counts as the section it was copied from, but for the fields it was given.
"""

from __future__ import annotations

import dataclasses
import sys
from contextlib import contextmanager

from seal.config import check_ranges


def options(cfg, prefix: str = "") -> list[str]:
    """Every dotted key of `cfg` (leaves only: `ttt.lora.r`, not `ttt.lora`)."""
    out = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        out += options(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return out


def unshared(cfg):
    """`cfg` with every section a distinct object (a default is one object: two sections may hold the same one), so
    that a read names one key."""
    return dataclasses.replace(cfg, **{f.name: unshared(v) for f in dataclasses.fields(cfg)
                                       if dataclasses.is_dataclass(v := getattr(cfg, f.name))})


class Reads:
    """The configs watched and the keys read from them (see the module's docstring)."""

    def __init__(self):
        self.configs: list = []
        self.read: set[str] = set()
        self._where: dict[int, tuple[object, str, frozenset]] = {}  # id(section) -> (the section, kept alive;
        # its prefix; the fields a copy was given, not read from the config)
        self._fields: dict[type, set[str]] = {}
        self._patched: list[type] = []
        self._ignored = {check_ranges.__code__, dataclasses._asdict_inner.__code__, dataclasses.replace.__code__}

    def watch(self, cfg):
        cfg = unshared(cfg)
        self.configs.append(cfg)
        self._register(cfg, "")
        return cfg

    def _register(self, obj, prefix: str, given: frozenset = frozenset()) -> None:
        self._where[id(obj)] = (obj, prefix, given)
        cls = type(obj)
        if cls not in self._fields:
            self._fields[cls] = {f.name for f in dataclasses.fields(obj)}
            for name in ("__post_init__", "__eq__", "__hash__", "__repr__"):
                code = getattr(getattr(cls, name, None), "__code__", None)
                if code is not None:
                    self._ignored.add(code)
            if "__getattribute__" not in cls.__dict__:
                cls.__getattribute__ = _getattribute(self)
                self._patched.append(cls)
        for f in dataclasses.fields(obj):
            value = object.__getattribute__(obj, f.name)
            if dataclasses.is_dataclass(value) and id(value) not in self._where:
                self._register(value, f"{prefix}{f.name}.")

    def _counted(self) -> bool:
        frame = sys._getframe(3)  # the reader (above _counted and __getattribute__)
        while frame is not None:
            if frame.f_code in self._ignored:
                return False
            frame = frame.f_back
        return True

    def _note(self, obj, name: str, value) -> None:
        entry = self._where.get(id(obj))
        if entry is not None and entry[0] is obj and name in self._fields[type(obj)] and name not in entry[2] \
                and not dataclasses.is_dataclass(value):
            key = entry[1] + name
            if key not in self.read and self._counted():
                self.read.add(key)

    def _copied(self, obj, new, changes: dict) -> None:
        entry = self._where.get(id(obj))
        if entry is not None and entry[0] is obj:
            self._register(new, entry[1], entry[2] | frozenset(changes))

    def _close(self) -> None:
        for cls in self._patched:
            del cls.__getattribute__


def _getattribute(reads: Reads):
    def getattribute(self, name):
        value = object.__getattribute__(self, name)
        reads._note(self, name, value)
        return value

    return getattribute


@contextmanager
def recording():
    """Yields a `Reads`; the config classes it watched are themselves again afterwards."""
    reads, replace = Reads(), dataclasses.replace

    def replaced(obj, /, **changes):
        new = replace(obj, **changes)
        reads._copied(obj, new, changes)
        return new

    dataclasses.replace = replaced
    try:
        yield reads
    finally:
        dataclasses.replace = replace
        reads._close()
