"""Where inner loops run: in process (`local`, the default) or on Ray actors (`ray`)."""

from seal.executors.base import ExecutorConfig, Job, LocalExecutor, run_jobs


def make_executor(cfg: ExecutorConfig, domain):
    """The executor `cfg.kind` names, running `domain`'s inner loops."""
    if cfg.kind == "ray":
        from seal.executors.ray import RayExecutor

        return RayExecutor(cfg, domain)
    return LocalExecutor(domain)


__all__ = ["ExecutorConfig", "Job", "LocalExecutor", "make_executor", "run_jobs"]
