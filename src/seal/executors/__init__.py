"""Where inner loops run: in process (`local`, the default) or on Ray actors (`ray`)."""

from seal.executors.base import ExecutorConfig, Job, LocalExecutor, condition_jobs, run_condition, run_jobs
from seal.utils.imports import is_ray_available


def make_executor(cfg: ExecutorConfig, domain):
    """The executor `cfg.kind` names, running `domain`'s inner loops (raises SealError for `ray` without Ray)."""
    if cfg.kind == "ray":
        from seal.executors.ray import RayExecutor

        return RayExecutor(cfg, domain)
    return LocalExecutor(domain)


__all__ = ["ExecutorConfig", "Job", "LocalExecutor", "condition_jobs", "is_ray_available", "make_executor",
           "run_condition", "run_jobs"]
