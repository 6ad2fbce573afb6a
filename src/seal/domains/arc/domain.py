"""The few-shot ARC domain: one self-edit's inner loop, from the model's JSON to a 0/1 reward.

`ArcDomain.evaluate(task, self_edit_text, seed)` parses the self-edit (`edit.parse_self_edit`), builds its test-time
training data (`ttt_data.make_ttt_examples`, chat-formatted by `solve.encode_pairs`), checks the step budget (paper:
375 steps), trains the run's one LoRA (`FastAdapter`, reset in place) with the self-edit's strategy, learning rate and
epochs, answers the task's test inputs (`solve.solve_task`) and returns reward 1.0 when every test input is solved
(pass@2), else 0.0. A malformed or over-budget self-edit gets reward 0 with the reason in `details["rejected"]`; it
never raises. `icl(task)` answers without training (paper Table 1, "ICL"); `evaluate_config(task, EditConfig, seed)`
runs a given configuration (the "Oracle TTT" column uses `edit.ORACLE_EDIT`).

With `self_edit.constrained`, `writer()` decodes every self-edit under `self_edit_constraint(cfg)` (the schema of
`edit.self_edit_schema`, epochs bounded by the step budget), so none is rejected as malformed or over budget.

ARC rewards are absolute, so `Outcome.base_score` is 0.0 and the store's `reward = score - base_score` is the
success itself. A task whose prompts cannot fit the context is not attempted: `check_task` gives the reason and the
recipe records it (reward None).

Departure from SEAL: SEAL trains with Hugging Face's Trainer and a fresh PEFT model per configuration and saves each
adapter; here one LoRA is re-initialised in place per self-edit (`inner/train.py`), with pads never in the loss.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from seal.domains.arc.config import ArcSections, ArcSelfEditSections
from seal.domains.arc.edit import (EditConfig, EditRejection, budget_epochs, check_budget, parse_self_edit,
                                   self_edit_schema)
from seal.domains.arc.edit import self_edit_prompt as edit_prompt_text
from seal.domains.arc.solve import (answer_budget, build_prompts, check_fits, context_limit, encode_pairs,
                                    select_views, solve_task)
from seal.domains.arc.tasks import Task
from seal.domains.arc.ttt_data import make_ttt_examples
from seal.domains.base import DomainSpec, Outcome, portable_source
from seal.inner import make_adapter
from seal.models.constrain import Constrained, Constraint, require_xgrammar
from seal.models.generate import base_writer
from seal.models.tokens import chat_prompt, encode


def self_edit_constraint(cfg: ArcSelfEditSections) -> Constraint | None:
    """The JSON-schema constraint self-edits are sampled under (None when `self_edit.constrained` is false): every
    instance parses and is within `ttt.max_steps` on at most `ttt.max_examples` pairs."""
    if not cfg.self_edit.constrained:
        return None
    ttt = cfg.ttt
    return Constraint.json(self_edit_schema(budget_epochs(ttt.max_examples, ttt.batch_size * ttt.grad_accum,
                                                          ttt.max_steps)))


def check_constrained(cfg: ArcSections) -> None:
    """Raise a one-line ConfigError before any work when a constrained option is on and xgrammar is missing (a config
    without `self_edit`, `arc curate`'s, samples no self-edit)."""
    for option in ("self_edit", "solve"):
        if getattr(getattr(cfg, option, None), "constrained", False):
            require_xgrammar(f"{option}.constrained")


def constrained_writer(cfg: ArcSelfEditSections, generator):
    """`generator`, decoding under `self_edit_constraint(cfg)` when there is one (the seal condition's writer)."""
    constraint = self_edit_constraint(cfg)
    return generator if constraint is None else Constrained(generator, constraint)


def render_self_edit_prompt(tokenizer, task: Task, max_steps: int) -> str:
    """`edit.self_edit_prompt(task, max_steps)` as the user message of the tokenizer's chat template."""
    return chat_prompt(tokenizer, edit_prompt_text(task, max_steps))


class ArcDomain:
    """Holds the model with its one TTT LoRA and the ARC config for a run (implements `domains.base.Domain`); sampling
    self-edits (`writer`, `check_task` with a self-edit) reads `self_edit` too, which `arc curate`'s config lacks."""

    name = "arc"
    batch_size = 1  # one TTT at a time: each self-edit chooses its own learning rate and epochs

    def __init__(self, model, tokenizer, cfg: ArcSections, source: str | None = None):
        """`source`: the name or path `model` was loaded from, so that `spec()` can rebuild the domain on a Ray
        actor (None when unknown; the local executor does not need it)."""
        self.cfg = cfg
        self.source = source
        self.tokenizer = tokenizer
        self.adapter = make_adapter(model, tokenizer, cfg.ttt.inner(), "ttt")

    def spec(self) -> DomainSpec:
        """Rebuilds this domain in another process: the config and the model's source (see `from_spec`)."""
        return DomainSpec("seal.domains.arc.domain:from_spec", {"cfg": self.cfg, "source": portable_source(self.source)})

    # -- the Domain protocol ------------------------------------------------------------------------------------------
    def context_id(self, task: Task) -> str:
        return task.id

    def context_payload(self, task: Task) -> dict:
        return task.to_dict()

    def self_edit_prompt(self, task: Task) -> str:
        return render_self_edit_prompt(self.tokenizer, task, self.cfg.ttt.max_steps)

    @contextmanager
    def writer(self):
        with base_writer(self.adapter, self.tokenizer, self.cfg.self_edit.batch_size) as generator:
            yield constrained_writer(self.cfg, generator)

    def release(self):
        return self.adapter.release()

    def untrained(self, task: Task) -> Outcome:
        """The base model answers from the demonstrations, no training (paper Table 1, ICL)."""
        return self.icl(task)

    def evaluate(self, task: Task, self_edit: str | None, seed: int) -> Outcome:
        """Parse `self_edit` and run its TTT; reward 0 with `details["rejected"]` when it is malformed (None, a
        task's demonstrations alone with no configuration, is malformed too: ARC has no such condition)."""
        parsed = parse_self_edit(self_edit or "")
        if isinstance(parsed, EditRejection):
            return self.rejected(task, parsed.reason)
        return self.evaluate_config(task, parsed, seed)

    def evaluate_batch(self, items: list[tuple[Task, str | None, int]]) -> list[Outcome]:
        """`evaluate` on each (task, self-edit, seed) in turn."""
        return [self.evaluate(*item) for item in items]

    # -- ARC specifics ------------------------------------------------------------------------------------------------
    def rejected(self, task: Task, reason: str, **details) -> Outcome:
        return Outcome(reward=0.0, score=0.0, base_score=0.0, n_questions=len(task.test),
                       details={"rejected": reason, **details})

    def check_task(self, task: Task, with_self_edit: bool = True) -> str | None:
        """Why `task` cannot be attempted (a test input without a prompt that fits the context, or a self-edit
        prompt too long to answer), else None."""
        model = self.adapter.model
        budget = answer_budget(self.tokenizer, task, self.cfg.solve)
        prompts = build_prompts(self.tokenizer, task, select_views(self.cfg.solve.views), self.cfg.solve.demos)
        reason = check_fits(prompts, len(task.test), context_limit(model, self.cfg.solve, budget))
        if reason or not with_self_edit:
            return reason
        n = len(encode(self.tokenizer, self.self_edit_prompt(task)))
        limit = context_limit(model, self.cfg.solve, self.cfg.self_edit.max_new_tokens)
        return f"self-edit prompt has {n} tokens, over the limit of {limit}" if n > limit else None

    def icl(self, task: Task) -> Outcome:
        """Answer with the base model, no training (paper Table 1, ICL)."""
        t0 = time.perf_counter()
        with self.adapter.base() as model:
            result = solve_task(model, self.tokenizer, task, self.cfg.solve)
        solved = float(result.all_solved)
        return Outcome(reward=solved, score=solved, base_score=0.0, n_questions=len(task.test),
                       details=result.details(), timings={"solve_s": time.perf_counter() - t0})

    def evaluate_config(self, task: Task, edit: EditConfig, seed: int) -> Outcome:
        """Run one TTT configuration on `task` with training seed `seed`: data, budget check, train, solve."""
        t0 = time.perf_counter()
        pairs = make_ttt_examples(task, **edit.ttt_kwargs(), max_examples=self.cfg.ttt.max_examples, seed=seed,
                                  permute_n=self.cfg.ttt.permute_n)
        examples, n_long = encode_pairs(self.tokenizer, pairs, self.cfg.ttt.max_seq_tokens,
                                        prompt_in_loss=edit.strategy == "all_tokens")
        timings = {"ttt_data_s": time.perf_counter() - t0}
        details = {"config": edit.to_dict(), "n_examples": len(examples), "n_dropped_long": n_long,
                   "max_example_tokens": max((len(e.ids) for e in examples), default=0)}
        reason = check_budget(edit, len(examples), self.cfg.ttt.batch_size * self.cfg.ttt.grad_accum,
                              self.cfg.ttt.max_steps)
        if reason:
            out = self.rejected(task, reason, **details)
            out.timings = timings
            return out
        inner = self.cfg.ttt.inner(edit.learning_rate, edit.num_train_epochs)
        with self.adapter.trained(examples, seed, cfg=inner) as stats:
            t1 = time.perf_counter()
            result = solve_task(self.adapter.model, self.tokenizer, task, self.cfg.solve)
            timings["solve_s"] = time.perf_counter() - t1
        timings["train_s"] = stats.seconds
        details["train"] = {"steps": stats.steps, "real_tokens": stats.real_tokens,
                            "first_loss": stats.losses[0] if stats.losses else None,
                            "final_loss": stats.losses[-1] if stats.losses else None}
        solved = float(result.all_solved)
        return Outcome(reward=solved, score=solved, base_score=0.0, n_questions=len(task.test),
                       details=details | result.details(), timings=timings)


def from_spec(cfg: ArcSections, source: str) -> ArcDomain:
    """An ARC domain with its own replica of the model at `source`, loaded as the recipes load it."""
    from seal.models import load_model

    model, tokenizer = load_model(cfg.model, cfg.run.seed, source)
    return ArcDomain(model, tokenizer, cfg, source=source)
