"""What a resumed run may change, and the config it continues with (`seal COMMAND --resume RUN_DIR`).

A resume keeps every finished unit of work, so it may change only how and where the work runs (threads, the
executor, the vLLM engine's memory, how the judge is reached and waited for, how long a curation may go on), never
what it computes. A key whose recorded value was redacted (it held a secret) may, and must, be given again.

An evaluation (`seal DOMAIN eval`) may also gain rows: `eval.conditions` may add conditions (every recorded one
kept), with what a new condition reads given where it was unset (a new name of `eval.external`, an empty
`eval.checkpoint` or `eval.external_file`). The recorded conditions' work is reused and only the new ones run, so a
finished table gets a row (a trained round's self-edits, another source) paired with the others at the cost of that
row alone.
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


def adds_a_row(command: str, key: str, recorded, new) -> bool:
    """Whether changing `key` from `recorded` to `new` only adds conditions to an evaluation (see the module)."""
    if not command.endswith(" eval"):
        return False
    if key == "eval.conditions":
        return isinstance(recorded, list) and isinstance(new, list) and set(recorded) <= set(new)
    if key.startswith("eval.external."):
        return recorded is None
    return key in ("eval.checkpoint", "eval.external_file") and not recorded


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
            other than by adding an evaluation's conditions (`adds_a_row`; all such keys named, in order); a key
            recorded redacted is not given again.
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
    refused = sorted(k for k, (old, new) in changed.items()
                     if k not in hidden and not resumable(k) and not adds_a_row(command, k, old, new))
    if refused:
        allowed = ", ".join(f"{s}.*" if n is None else f"{s}.{{{','.join(n)}}}" for s, n in RESUMABLE.items())
        raise SealError(f"--resume cannot change {', '.join(refused)}: finished work used the recorded values "
                        f"(a resume may change {allowed}, and an evaluation may add eval.conditions)")
    missing = [k for k in hidden if k not in flat(tree)]
    if missing:
        raise SealError(f"{run.dir}: the recorded value of {', '.join(missing)} held a secret and was not stored; "
                        f"give it again, e.g. --set {missing[0]}=...")
    return cfg, changed
