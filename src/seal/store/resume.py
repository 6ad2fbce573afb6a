"""What a resumed run may change, and the config it continues with (`seal COMMAND --resume RUN_DIR`).

A resume keeps every finished unit of work, so it may change only how and where the work runs (threads, the
executor, the vLLM engine's memory, how the judge is reached and waited for, how long a curation may go on), never
what it computes. A key whose recorded value was redacted (it held a secret) may, and must, be given again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seal.errors import SealError

_JUDGE_ACCESS = ("base_url", "api_key_env", "timeout_s", "deadline_s", "max_retries", "backoff_s", "max_workers")
RESUMABLE = {"model": ("threads",), "executor": None, "generation": ("gpu_memory_utilization", "enforce_eager"),
             "quiz.judge": _JUDGE_ACCESS, "reward.judge": _JUDGE_ACCESS, "curate": ("max_hours",)}
"""Section -> the names in it a resume may change (None: all)."""


def resumable(key: str) -> bool:
    """Whether a resume may change the dotted config key `key` (`RESUMABLE`)."""
    section, _, name = key.rpartition(".")
    return section in RESUMABLE and (RESUMABLE[section] is None or name in RESUMABLE[section])


def flat(tree: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    out = {}
    for k, v in tree.items():
        out |= flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v}
    return out


def resumed_config(run, command: str, cfg_class, config: Path | None, overrides):
    """The config a resumed run continues with: its recorded config, then `--config` and `--set` on top, where only
    keys that `RESUMABLE` names (and keys recorded redacted) may change. Returns (config, {key: [recorded, new]}).

    Raises:
        SealError: the run is another command's; a value is invalid; an override changes a key outside RESUMABLE
            (all such keys named, in order); a key recorded redacted is not given again.
    """
    from seal.config import (_build, _set_dotted, load_config, merge_sections, parse_override, read_config_file,
                             to_dict)
    from seal.store.runs import redacted_keys

    if run.manifest["command"] != command:
        raise SealError(f"{run.dir} is a '{run.manifest['command']}' run, not '{command}'")
    tree: dict = {}
    if config is not None:
        load_config(cfg_class, config)  # the file's own errors, as for a new run
        tree = read_config_file(config, cfg_class)
    for text in overrides:
        _set_dotted(tree, *parse_override(text))
    sections = {f.name for f in dataclasses.fields(cfg_class)}  # runs recorded before one config per command
    recorded = {k: v for k, v in run.manifest["config"].items() if k in sections}  # hold every section
    cfg = _build(cfg_class, merge_sections(recorded, tree))
    # keys a run recorded before they existed compare as their defaults
    before, after = flat(to_dict(cfg_class())) | flat(recorded), flat(to_dict(cfg))
    changed = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    hidden = redacted_keys(recorded)
    refused = sorted(k for k in changed if k not in hidden and not resumable(k))
    if refused:
        allowed = ", ".join(f"{s}.*" if n is None else f"{s}.{{{','.join(n)}}}" for s, n in RESUMABLE.items())
        raise SealError(f"--resume cannot change {', '.join(refused)}: finished work used the recorded values "
                        f"(a resume may change {allowed})")
    missing = [k for k in hidden if k not in flat(tree)]
    if missing:
        raise SealError(f"{run.dir}: the recorded value of {', '.join(missing)} held a secret and was not stored; "
                        f"give it again, e.g. --set {missing[0]}=...")
    return cfg, changed
