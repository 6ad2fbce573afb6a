"""What the few-shot ARC commands check and choose before they run (Table 1 of arXiv 2506.10943): the tasks
(`choose_tasks`), the config (`check_conditions`) and the oracle condition's configurations (`oracle_edits`). The
conditions themselves run through the generic runner (`seal.evaluation`) as `seal.domains.arc.plugin` names them.
"""

from __future__ import annotations

from seal.config import missing_model_dir
from seal.domains.arc.config import ArcEvalCommandConfig, ArcSelfEditSections
from seal.domains.arc.domain import check_constrained
from seal.domains.arc.curate import CURATED_PREFIX, curated_configs, is_curated_source, load_curated
from seal.domains.arc.edit import ORACLE_EDIT, EditConfig
from seal.domains.arc.tasks import Task, load_tasks
from seal.errors import ConfigError, DataError

def choose_tasks(cfg: ArcSelfEditSections) -> list[Task]:
    """The configured tasks (ids, then offset and n), each with known test outputs."""
    if is_curated_source(cfg.data.source):
        tasks = load_curated(cfg.data.source.removeprefix(CURATED_PREFIX), cfg.data.from_source)
        if cfg.data.ids:
            by_id = {t.id: t for t in tasks}
            missing = [i for i in cfg.data.ids if i not in by_id]
            if missing:
                raise DataError(f"data.ids: {missing[0]} is not in {cfg.data.source}"
                                + (f" from {cfg.data.from_source}" if cfg.data.from_source else ""))
            tasks = [by_id[i] for i in cfg.data.ids]
    else:
        tasks = load_tasks(cfg.data.source, cfg.data.solutions or None, ids=list(cfg.data.ids) or None)
    tasks = tasks[cfg.data.offset:]
    tasks = tasks[:cfg.data.n] if cfg.data.n else tasks
    if not tasks or len(tasks) < cfg.data.n:  # fewer than asked for would pass for the full table
        raise DataError(f"{cfg.data.source}: {len(tasks)} task(s) selected, data.n={cfg.data.n} asked for "
                        f"(data.offset={cfg.data.offset})")
    unsolved = [t.id for t in tasks if not t.has_solutions]
    if unsolved:
        raise DataError(f"{cfg.data.source}: no solutions for task(s) {', '.join(unsolved[:3])}; give data.solutions")
    return tasks


def check_conditions(cfg: ArcEvalCommandConfig) -> None:
    """Fail before loading anything: the constrained-decoding settings, and the seal condition's checkpoint.

    Raises:
        ConfigError: naming the key and the value.
    """
    check_constrained(cfg)
    if "seal" in cfg.eval.conditions and not cfg.eval.checkpoint:
        raise ConfigError("eval.checkpoint: needed by the seal condition (or drop seal from eval.conditions)")
    if "seal" in cfg.eval.conditions and missing_model_dir(cfg.eval.checkpoint):
        raise ConfigError(f"eval.checkpoint: no such directory: {cfg.eval.checkpoint}")


def oracle_edits(cfg: ArcSelfEditSections, task_ids: list[str]) -> dict[str, tuple[EditConfig, str]]:
    """Per task id, the oracle condition's configuration and where it comes from: the configuration that solved the
    task in curation when `data.source` is a curated list (read once), else the fixed `edit.ORACLE_EDIT`."""
    curated = (curated_configs(cfg.data.source.removeprefix(CURATED_PREFIX))
               if is_curated_source(cfg.data.source) else {})
    return {i: (curated[i], cfg.data.source) if i in curated else (ORACLE_EDIT, "edit.ORACLE_EDIT")
            for i in task_ids}
