"""A domain as a plugin: the one object that knows everything domain-specific, so that the commands (`seal eval`,
`seal train`, `seal report`, `seal config show`, `seal data show`) and the contract tests never name a domain.

A plugin says what its contexts are and where they come from (`contexts`, `train_contexts`, `show`), builds the
inner-loop object the executors call (`build`, a `seal.domains.base.Domain`), names its conditions by kind
(`conditions`), gives the self-edits of its fixed conditions (`fixed_edits`), and summarises, prints and plots its
results (`summarize`, `table`, `curve`, `format_curve`, `results_html`). Everything has a generic default but `build`,
`contexts`, `conditions` and `commands`, so a new domain is a few methods (see `examples/facts/`).

Condition kinds (paper Table 1 and Table 2 are both tables of conditions of these kinds):

    none        no self-edit and no training: the unadapted model (`Domain.untrained`); knowledge `base`, ARC `icl`
    context     train on the context alone (`Domain.evaluate(context, None, seed)`); knowledge `passage`
    own         self-edits sampled from the model being evaluated; knowledge `self-edit`, ARC `ttt-untrained`
    checkpoint  self-edits sampled from another model, `eval.checkpoint` (a trained ReST-EM round); knowledge
                `checkpoint`, ARC `seal`
    fixed       self-edits the plugin reads or builds (`fixed_edits`); knowledge's file-given sources, ARC `oracle`

A config of an eval or train command has the sections the generic recipes read: `run`, `model` (with `threads`),
`self_edit` (k, temperature, top_p, max_new_tokens, batch_size), `eval` (`conditions`, `checkpoint`), `executor`;
`train` adds `outer` (`seal.config.OuterConfig`). Anything else is the plugin's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

KINDS = ("none", "context", "own", "checkpoint", "fixed")


@dataclass(frozen=True)
class Condition:
    """A condition of a domain's table: its display name and its kind (one of `KINDS`)."""

    name: str
    kind: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"condition {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")


class DomainPlugin:
    """Base class of a domain plugin; subclass it, set `name`, `help` and `commands`, implement `build`, `contexts`
    and `conditions`, and override what the generic defaults do not fit.

    Class attributes:
        name: the domain's name on the command line (`seal eval NAME`).
        help: one line for `seal --help`.
        commands: command -> config class; `eval` and `train` run the generic recipes (`seal.recipes.eval`,
            `seal.recipes.train`), any other command a recipe of the plugin's own (`recipes`).
        config: the config class holding every section, for `seal config show DOMAIN` with no command (default:
            the first command's).
        recipes: command -> (recipe "module:function", formatter "module:function", help) for the plugin's own
            commands, e.g. knowledge's `cpt`; the recipe takes (run, config) and returns what the formatter prints.
    """

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    commands: ClassVar[dict[str, type]] = {}
    config: ClassVar[type | None] = None
    recipes: ClassVar[dict[str, tuple[str, str, str]]] = {}

    # -- contexts -----------------------------------------------------------------------------------------------------
    def contexts(self, cfg) -> list:
        """The evaluation contexts the config selects (its `data` section). Raises DataError on bad data."""
        raise NotImplementedError

    def train_contexts(self, cfg) -> tuple[list, list[list]]:
        """`seal train`: the held-out evaluation contexts and the training contexts of each of `outer.rounds`
        rounds. Default: `contexts(cfg)` shuffled by `run.seed`, the first `outer.eval_contexts` held out, each round
        the next `outer.contexts_per_round` (disjoint rounds, as the knowledge domain's ReST-EM).

        Raises:
            DataError: too few contexts for the rounds asked for.
        """
        import random

        contexts = list(self.contexts(cfg))
        random.Random(cfg.run.seed).shuffle(contexts)
        return split_rounds(contexts, cfg.outer, f"{len(contexts)} contexts")

    def show(self, source: str, n: int, seed: int | None) -> str:
        """`seal data show`: a look at `n` items of `source` (generic: each context's payload as JSON)."""
        import json

        from seal.config import load_config

        cfg = load_config(self.commands["eval"], None, [f"data.source={json.dumps(source)}"])
        items = self.contexts(cfg)
        if seed is not None:
            import random

            items = random.Random(seed).sample(items, len(items))
        return "\n".join([f"{len(items)} contexts"] + [json.dumps(self.payload(c)) for c in items[:n]])

    def context_id(self, context) -> str:
        """A stable id of the context (default: its `id` attribute)."""
        return context.id

    def payload(self, context) -> dict:
        """The context as JSON for the store (default: its `to_dict()`, else its `__dict__`)."""
        return context.to_dict() if hasattr(context, "to_dict") else dict(vars(context))

    def matches(self, source: str) -> int:
        """How surely `seal data show SOURCE` is this domain's data: 0 not, 1 as a fallback (whatever no other domain
        claims), 2 by its name or layout; the built-in or installed plugin with the highest shows it."""
        return 0

    # -- the run ------------------------------------------------------------------------------------------------------
    def check(self, cfg, contexts: list, training: bool = False) -> None:
        """Fail before loading a model on what the config's files show to be wrong about `contexts`, those evaluated
        (ConfigError/DataError); `training` says the command is `train`. Default: nothing."""

    def check_config(self, cfg, training: bool = False) -> None:
        """Fail before reading any data on what the config alone shows to be wrong (ConfigError); `training` says the
        command is `train`. Default: every name of `eval.conditions` is one of `conditions(cfg)`, and a
        checkpoint-kind condition has `eval.checkpoint`."""
        from seal.config import missing_model_dir
        from seal.errors import ConfigError

        known = self.conditions(cfg)
        unknown = [c for c in cfg.eval.conditions if c not in known]
        if unknown:
            raise ConfigError(f"eval.conditions: unknown condition {unknown[0]!r} (known: {', '.join(known)})")
        if not training and any(known[c].kind == "checkpoint" for c in cfg.eval.conditions):
            if not cfg.eval.checkpoint:
                raise ConfigError("eval.checkpoint: needed by a checkpoint condition (the model that writes its "
                                  "self-edits)")
            if missing_model_dir(cfg.eval.checkpoint):
                raise ConfigError(f"eval.checkpoint: no such directory: {cfg.eval.checkpoint}")

    def build(self, cfg, source: str, run=None, contexts: list = (), training: bool = False):
        """The inner-loop object (`seal.domains.base.Domain`) over the model at `source` (a name, a path or a
        round's checkpoint). `run`, when given, is the run being filled: record in its manifest what the first model
        of the run shows (its fingerprint, context, LoRA targets), checked against every context of the run."""
        raise NotImplementedError

    def skipped(self, domain, contexts: list, conditions: tuple[str, ...]) -> dict[str, str]:
        """Context id -> why it cannot be attempted with this model (default: none); stored as a row per condition."""
        return {}

    def conditions(self, cfg) -> dict[str, Condition]:
        """Every condition the config may name, by name, each with its kind (at least one `own`: ReST-EM trains on
        the model's own self-edits)."""
        raise NotImplementedError

    def round_conditions(self, cfg, round: int) -> tuple[str, ...]:
        """`seal train`: the conditions evaluated after `round` (0: before any training). Default: round 0 the
        config's `eval.conditions` (without `checkpoint`) plus the model's own self-edits, later rounds the own ones."""
        kinds = self.conditions(cfg)
        own = next(c.name for c in kinds.values() if c.kind == "own")
        if round:
            return (own,)
        return tuple(dict.fromkeys([c for c in cfg.eval.conditions if kinds[c].kind != "checkpoint"] + [own]))

    def evaluator(self, domain, cfg, training: bool):
        """The domain that scores an evaluation (`seal eval`, or with `training` the rounds of `seal train`), when it
        is to be scored otherwise than the E-step's rewards (default: `domain` itself)."""
        return domain

    def seeds(self, cfg, training: bool = False) -> int:
        """Training seeds per self-edit (default `inner.seeds`); `training`: the E-step's."""
        return cfg.inner.seeds

    def family(self, cfg) -> str | None:
        """The prompt family stored with each self-edit (default: none)."""
        return None

    def fixed_edits(self, cfg, condition: str, contexts: list) -> dict[str, list[tuple[str, str]]]:
        """A fixed condition's self-edits: context id -> [(text, where it comes from)], the same every round."""
        raise NotImplementedError(f"{self.name}: no fixed condition {condition!r}")

    def manifest(self, cfg, contexts: list, training: bool = False) -> dict:
        """What the run's manifest records beyond the config and the contexts' ids (default: the seeds); `contexts`
        are those evaluated, or with `training` those the rounds train on."""
        return {"seeds": {"run": cfg.run.seed, "inner": list(range(self.seeds(cfg, training)))}}

    # -- results ------------------------------------------------------------------------------------------------------
    def summarize(self, cfg, domain, contexts: list, rows: dict[str, list[dict]], edit_rows: dict[str, list[dict]],
                  skipped: dict[str, str]) -> dict:
        """The results of one evaluation of `domain` on `contexts` (skipped ones included) from its rows (condition ->
        inner-loop rows, condition -> their self-edit rows): default, per condition the mean score and reward with
        95% t intervals over contexts (`seal.reports.tables.score_summary`) and each condition against the
        none-kind one."""
        from seal.reports.tables import score_differences, score_summary

        conditions = {c: score_summary(r) for c, r in rows.items()}
        kinds = self.conditions(cfg)
        anchor = next((c for c in rows if kinds[c].kind == "none"), None)
        return {"conditions": conditions, "differences": score_differences(rows, anchor), "skipped": skipped}

    def table(self, results: dict) -> str:
        """The results as printed (`seal.reports.tables.score_table` by default)."""
        from seal.reports.tables import score_table

        return score_table(results)

    def curve(self, run, records: list[dict]) -> dict:
        """`seal train`'s round curve from the run's stored evaluations (`seal.reports.curve.score_curve`)."""
        from seal.reports.curve import score_curve

        return score_curve(run, self.round_conditions(run_config(self, run), 1)[0], records)

    def format_curve(self, curve: dict) -> str:
        """`seal train`'s printed curve (`seal.reports.curve.format_curve` by default)."""
        from seal.reports.curve import format_curve

        return format_curve(curve)

    def results_html(self, run, results: dict | None) -> str | None:
        """The Results section of `seal report` (HTML): `results` is the run's results.json, None when the run stopped
        before writing it. Default: the printed table (`table`), or nothing without results.json."""
        if results is None or not results.get("conditions"):
            return None
        from seal.reports.htmlkit import esc

        return f"<pre>{esc(self.table(results))}</pre>"


def split_rounds(contexts: list, outer, what: str) -> tuple[list, list[list]]:
    """The first `outer.eval_contexts` of `contexts` held out, then each of `outer.rounds` rounds the next
    `outer.contexts_per_round` (disjoint rounds). `what` opens the error (e.g. "40 contexts").

    Raises:
        DataError: too few contexts for the rounds asked for.
    """
    from seal.errors import DataError

    n_eval, per_round, rounds = outer.eval_contexts, outer.contexts_per_round, outer.rounds
    needed = n_eval + per_round * rounds
    if len(contexts) < needed:
        raise DataError(f"{what}, but {n_eval} held out plus {rounds} rounds of {per_round} need {needed}")
    rest = contexts[n_eval:]
    return contexts[:n_eval], [rest[r * per_round:(r + 1) * per_round] for r in range(rounds)]


def run_config(plugin: DomainPlugin, run) -> Any:
    """The config a run recorded, rebuilt as the class of its command (sections a class lacks are dropped)."""
    import dataclasses

    from seal.config import _build

    command = run.manifest["command"].split(" ")[-1]
    cls = plugin.commands[command]
    names = {f.name for f in dataclasses.fields(cls)}
    return _build(cls, {k: v for k, v in run.manifest["config"].items() if k in names})

