"""The run store: one SQLite file (`seal.db`, WAL mode) per run.

Every unit of work (a generated self-edit, one inner loop, one round, one evaluation) is one row written in its own
transaction under a unique `key`, so a run killed with SIGKILL loses at most the unit in flight and never leaves a
partial row; on resume, `has(table, key)` tells what is already done. Payloads are JSON text.

Tables:
    meta(key, value)                      schema version, run status, pid
    contexts(id, domain, payload)         passages / ARC tasks the run touched
    self_edits(id, key, context_id, round, condition, family, prompt, text, sampling, seed, created_at)
    inner_results(id, key, self_edit_id, context_id, round, condition, seed, score, base_score, reward,
                  n_questions, details, timings, created_at)
    rounds(round, status, payload, updated_at)
    evaluations(id, key, round, condition, payload, created_at)
"""

from __future__ import annotations

import json
import resource
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from seal.errors import SealError, StorageError

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contexts (id TEXT PRIMARY KEY, domain TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS self_edits (
    id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, context_id TEXT NOT NULL, round INTEGER NOT NULL,
    condition TEXT NOT NULL, family TEXT, prompt TEXT, text TEXT NOT NULL, sampling TEXT NOT NULL,
    seed INTEGER, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS inner_results (
    id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, self_edit_id INTEGER REFERENCES self_edits(id),
    context_id TEXT NOT NULL, round INTEGER NOT NULL, condition TEXT NOT NULL, seed INTEGER,
    score REAL, base_score REAL, reward REAL, n_questions INTEGER, details TEXT NOT NULL, timings TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (round INTEGER PRIMARY KEY, status TEXT NOT NULL, payload TEXT NOT NULL,
    updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, round INTEGER, condition TEXT NOT NULL, payload TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS inner_by_context ON inner_results(context_id, condition, round);
CREATE INDEX IF NOT EXISTS edits_by_context ON self_edits(context_id, condition, round);
"""

_JSON_COLUMNS = {"payload", "details", "timings", "sampling"}


def _row(row: sqlite3.Row) -> dict:
    out = dict(row)
    for k in _JSON_COLUMNS & out.keys():
        out[k] = json.loads(out[k]) if out[k] is not None else None
    return out


class Store:
    """A run's SQLite store. Each `add_*` call is one atomic transaction; `add_*` with an existing key is a no-op
    that returns the existing row id (so a resumed run can re-offer finished work safely)."""

    def __init__(self, path: str | Path, readonly: bool = False):
        """Open the store at `path`: a new one (its schema written) when no file is there, else an existing seal
        store, never a file that holds something else (an empty file included: its schema would hide that the run's
        work is gone). `readonly` opens it with SQLite's `mode=ro`, so nothing (no schema, no pragma) is written:
        for reports and listings.

        Raises:
            SealError: `path` cannot be opened, or is a file that is not a seal store (empty, not SQLite, or SQLite
                without seal's tables).
            StorageError: the new store's schema cannot be written (a full disk).
        """
        self.path = Path(path)
        self.readonly = readonly
        existed = self.path.exists()
        try:
            if readonly:
                self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                                            isolation_level=None)
            else:
                self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as e:
            raise SealError(f"{self.path}: cannot open the run store ({e})") from None
        try:
            self.conn.row_factory = sqlite3.Row
            if existed or readonly:
                self._check_seal_store()  # before any pragma or schema could write to a foreign file
            if readonly:
                self.conn.execute("PRAGMA query_only=ON")
                return
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process (not a power cut)
            self.conn.execute("PRAGMA foreign_keys=ON")
            with self.transaction():  # existing stores too: adds the tables of a newer schema
                for stmt in filter(str.strip, SCHEMA.split(";")):
                    self.conn.execute(stmt)
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise self._failure(e, "opening") from None
        except SealError:
            self.conn.close()
            raise

    def _check_seal_store(self) -> None:
        """Raise SealError unless the open file is a seal store (a `meta` table with a schema version)."""
        try:
            found = self.conn.execute("SELECT 1 FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError as e:
            if "no such table" not in str(e):
                raise
            found = None
        if found is None:
            what = "an empty file" if self.path.stat().st_size == 0 else "a SQLite file without seal's tables"
            raise SealError(f"{self.path}: not a seal run store ({what}); the run's finished work is not in it")

    def _failure(self, e: sqlite3.Error, doing: str) -> SealError:
        """The error to raise for SQLite's `e` while `doing` something with the store: a damaged or foreign file,
        or a failed write (SQLite reports a full disk as SQLITE_FULL, a file size limit as an I/O error)."""
        name = getattr(e, "sqlite_errorname", "")
        if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            return SealError(f"{self.path}: not a seal run store ({e})")
        what = f"no space left on device ({e})" if name == "SQLITE_FULL" else str(e)
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if name.startswith("SQLITE_IOERR") and limit != resource.RLIM_INFINITY:  # SQLite hides the EFBIG
            what += f" (files are limited to {limit} bytes: ulimit -f)"
        return StorageError(f"{what} while {doing} {self.path}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; rolled back when the body raises.

        Raises:
            StorageError: SQLite cannot write it (a full disk, a file size limit, the store locked for 30 s).
        """
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:  # SQLite rolls back by itself after some failures (a full disk)
                    self.conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            raise self._failure(e, "writing") from None

    def close(self) -> None:
        self.conn.close()

    # -- meta ---------------------------------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except json.JSONDecodeError:
            return row[0]

    # -- units of work ------------------------------------------------------------------------------------------------
    def has(self, table: str, key: str) -> bool:
        assert table in {"self_edits", "inner_results", "evaluations"}
        return self.conn.execute(f"SELECT 1 FROM {table} WHERE key=?", (key,)).fetchone() is not None

    def _insert(self, table: str, row: dict) -> int:
        row = {k: (json.dumps(v) if k in _JSON_COLUMNS else v) for k, v in row.items()}
        row.setdefault("created_at", time.time())
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction():
            existing = self.conn.execute(f"SELECT id FROM {table} WHERE key=?", (row["key"],)).fetchone()
            if existing:
                return existing[0]
            return self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values())).lastrowid

    def put_context(self, context_id: str, domain: str, payload: dict) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR IGNORE INTO contexts VALUES (?, ?, ?)",
                              (context_id, domain, json.dumps(payload)))

    def add_self_edit(self, *, key: str, context_id: str, round: int, condition: str, text: str, sampling: dict,
                      family: str | None = None, prompt: str | None = None, seed: int | None = None) -> int:
        return self._insert("self_edits", dict(key=key, context_id=context_id, round=round, condition=condition,
                                               family=family, prompt=prompt, text=text, sampling=sampling, seed=seed))

    def add_inner_result(self, *, key: str, context_id: str, round: int, condition: str, seed: int | None,
                         score: float | None, base_score: float | None, n_questions: int, details: dict,
                         timings: dict, self_edit_id: int | None = None, reward: float | None = None) -> int:
        """One finished inner loop; `reward` defaults to score - base_score."""
        if reward is None and score is not None and base_score is not None:
            reward = score - base_score
        return self._insert("inner_results", dict(
            key=key, self_edit_id=self_edit_id, context_id=context_id, round=round, condition=condition, seed=seed,
            score=score, base_score=base_score, reward=reward, n_questions=n_questions, details=details,
            timings=timings))

    def add_evaluation(self, *, key: str, condition: str, payload: dict, round: int | None = None) -> int:
        return self._insert("evaluations", dict(key=key, round=round, condition=condition, payload=payload))

    def set_round(self, round: int, status: str, payload: dict) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO rounds VALUES (?, ?, ?, ?)",
                              (round, status, json.dumps(payload), time.time()))

    # -- queries ------------------------------------------------------------------------------------------------------
    def rows(self, table: str, where: str = "", params: tuple = ()) -> list[dict]:
        assert table in {"contexts", "self_edits", "inner_results", "rounds", "evaluations"}
        order = "round" if table == "rounds" else ("id" if table != "contexts" else "rowid")
        sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "") + f" ORDER BY {order}"
        return [_row(r) for r in self.conn.execute(sql, params)]

    def get(self, table: str, key: str) -> dict | None:
        found = self.rows(table, "key=?", (key,))
        return found[0] if found else None

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
