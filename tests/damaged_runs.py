"""Ways a run directory is found damaged (a truncated manifest, one without its config, a store that is not a
database, is empty or is another program's SQLite file), for the store and command-line tests."""

import json
import sqlite3

DAMAGE = ["truncated manifest", "manifest without config", "manifest not an object", "config not in sections",
          "seal.db not a database", "seal.db empty", "seal.db another program's SQLite"]


def damage(run_dir, kind: str) -> str:
    """Damage `run_dir` in the way `kind` (one of DAMAGE) names; returns the damaged file's name."""
    if kind == "truncated manifest":
        text = (run_dir / "manifest.json").read_text()
        (run_dir / "manifest.json").write_text(text[: len(text) // 2])
        return "manifest.json"
    if kind == "manifest without config":
        manifest = json.loads((run_dir / "manifest.json").read_text())
        del manifest["config"]
        (run_dir / "manifest.json").write_text(json.dumps(manifest))
        return "manifest.json"
    if kind == "config not in sections":
        manifest = json.loads((run_dir / "manifest.json").read_text())
        manifest["config"]["model"] = 3
        (run_dir / "manifest.json").write_text(json.dumps(manifest))
        return "manifest.json"
    if kind == "manifest not an object":
        (run_dir / "manifest.json").write_text("[1, 2]")
        return "manifest.json"
    for extra in ("seal.db-wal", "seal.db-shm"):
        (run_dir / extra).unlink(missing_ok=True)
    if kind == "seal.db empty":
        (run_dir / "seal.db").write_bytes(b"")
    elif kind == "seal.db another program's SQLite":
        (run_dir / "seal.db").unlink()
        conn = sqlite3.connect(run_dir / "seal.db")
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('not a run')")
        conn.commit()
        conn.close()
    else:
        (run_dir / "seal.db").write_bytes(b"this is not a database, only text" * 100)
    return "seal.db"
