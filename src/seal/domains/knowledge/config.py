"""Config of the knowledge-incorporation commands (`seal knowledge eval|train`), defaults from the paper.

Sources: paper Section 4.2 and Appendix B (Qwen2.5-7B; SQuAD; LoRA r 32 / alpha 64, lr 1e-3, 10 epochs, batch 1;
5 self-edits per passage; 3 seeds per reward; ReST-EM rounds of 50 passages; M-step LoRA r 64, lr 3e-4, 2 epochs,
effective batch 10). Values that the paper does not state follow SEAL's released code. One departure: the fast
inner loop (no pads in the loss) defaults to lr 1e-4, where the paper's 1e-3 over-fits (BENCHMARKS.md); reference
mode keeps 1e-3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Optional

from seal.config import (COUNT, NON_NEGATIVE, POSITIVE, ExecutorConfig, GenerationConfig, InnerConfig, LoraConfig,
                         ModelConfig, OuterConfig, Range, RunConfig, check_ranges, opt)
from seal.domains.knowledge.quiz import QuizConfig
from seal.domains.knowledge.rewards import RatingReward, make_reward
from seal.grading.judge import JudgeConfig


@dataclass(frozen=True)
class DataConfig:
    source: str = opt("builtin", "builtin, squad (Hugging Face hub), or a JSON file (SEAL's or SQuAD v1.1 layout)",
                      nonempty=True)
    n: int = opt(0, "passages to use (0 = all)", NON_NEGATIVE)
    seed: Optional[int] = opt(None, "shuffle seed before taking n (null keeps file order; 42 = SEAL's eval set)")
    offset: int = opt(0, "skip this many passages after shuffling", NON_NEGATIVE)


@dataclass(frozen=True)
class SelfEditConfig:
    family: str = opt("implications", "prompt family (implications, implications-long, implications-very-long, "
                                      "rewrite, self-qa, no-prompt, or one from families_file)", nonempty=True)
    families_file: str = opt("", "YAML file of extra families: name -> template with {title} and {passage}")
    k: int = opt(5, "self-edits sampled per passage (paper: 5)", COUNT)
    temperature: float = opt(1.0, "sampling temperature (paper: 1.0; 0 = greedy)", NON_NEGATIVE)
    top_p: float = opt(0.95, "nucleus sampling (SEAL's code: 0.95)", Range(0, 1, lo_open=True))
    max_new_tokens: int = opt(1024, "self-edit length limit", COUNT)
    batch_size: int = opt(8, "prompts per generate call", COUNT)
    chat: Literal["auto", "chat", "plain"] = opt("auto", "auto: the chat template when the tokenizer has one; plain: a "
                                                         "completion prompt, the family's cue last (prompts.CUES)")


@dataclass(frozen=True)
class SelfQuizConfig:
    """The self-written quiz of `reward.kind: self-quiz` (our extension, not in the paper;
    `seal.domains.knowledge.selfquiz`): the unadapted model writes question-answer pairs about each passage."""

    k: int = opt(4, "completions sampled per passage (one generate call); their pairs are pooled", COUNT)
    max_new_tokens: int = opt(160, "length limit of each completion", COUNT)
    temperature: float = opt(0.3, "sampling temperature (0 = greedy: the k completions are then the same); "
                                  "measured on SmolLM2, 6 built-in passages, k 4: 30 questions kept at 0.3, 26 at "
                                  "0.7, 2 at 1.0 (BENCHMARKS.md)", NON_NEGATIVE)
    top_p: float = opt(0.95, "nucleus sampling", Range(0, 1, lo_open=True))
    max_questions: int = opt(12, "questions kept per passage, the first ones that pass the filter (answer found in "
                                 "the passage, not given away by its question, question not repeated)", COUNT)

    def __post_init__(self):
        check_ranges(self)


@dataclass(frozen=True)
class RewardConfig:
    kind: str = opt(
        "accuracy", "a reward of seal.domains.knowledge.rewards: accuracy: quiz accuracy gain over the base model "
        "(paper); loglik: gain in mean log-likelihood of the gold answers (continuous, no generation, far less noisy "
        "on small quizzes); rubric (or judge, its first name): an LLM judge rates each self-edit against a rubric, no "
        "inner loop (the paper's v2 proxy reward; one rating per self-edit); self-quiz, self-quiz-accuracy: the same "
        "gains on questions the unadapted model writes about the passage itself (no answer key; reward.self_quiz); "
        "or module:function, a function (adapted quiz, unadapted quiz) -> reward of your own, importable where the "
        "inner loops run (seal.domains.knowledge.rewards.function_reward)")
    judge: JudgeConfig = opt(JudgeConfig(), "the judge that rates self-edits when kind=rubric (backend local: the "
                                            "model being trained rates its own self-edits, for offline runs)")
    self_quiz: SelfQuizConfig = opt(SelfQuizConfig(), "the quiz the unadapted model writes about each passage when "
                                                      "kind=self-quiz or self-quiz-accuracy (the gold questions are "
                                                      "then not used)")

    def __post_init__(self):
        try:
            make_reward(self.kind)
        except ValueError as e:
            raise ValueError(f"kind: {e}") from None  # names reward.kind, the value and the known rewards

    @property
    def rated(self) -> bool:
        """Whether the reward rates self-edits with no inner loop (the rubric)."""
        return isinstance(make_reward(self.kind), RatingReward)


# The conditions every single-passage table knows; `eval.external` adds conditions of its own names.
CONDITIONS = ("base", "passage", "self-edit", "external", "checkpoint")
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


@dataclass(frozen=True)
class EvalConfig:
    conditions: tuple[str, ...] = opt(
        ("base", "passage", "self-edit"),
        "columns of the single-passage table: base, passage, self-edit, external, checkpoint, and the names of "
        "eval.external")
    external_file: str = opt("", "self-edits in SEAL's layout (`completions` per passage) for the external condition")
    external: dict[str, str] = opt(
        {}, "named self-edit sources, name -> file in SEAL's layout, e.g. {qwen-base: base_val.json, gpt-4.1: "
            "gpt4_1_val.json}: each name is a condition (knowledge train scores them all in round 0), trained on the "
            "first self_edit.k self-edits of every passage and paired per question with every other condition")
    checkpoint: str = opt("", "model whose self-edits the checkpoint condition trains on (a trained round, say)")

    def __post_init__(self):
        if not self.conditions or len(set(self.conditions)) != len(self.conditions):
            raise ValueError(f"conditions: give at least one, each once, got {list(self.conditions)}")
        for name, path in self.external.items():
            if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name) or name in CONDITIONS:
                raise ValueError(f"external: a source's name is letters, digits and . _ + - (not one of "
                                 f"{', '.join(CONDITIONS)}), got {name!r}")
            if not isinstance(path, str) or not path.strip():
                raise ValueError(f"external.{name}: expected a self-edits file, got {path!r}")
        unknown = [c for c in self.conditions if c not in CONDITIONS and c not in self.external]
        if unknown:
            raise ValueError(f"conditions: unknown condition {unknown[0]!r} (known: {', '.join(CONDITIONS)}, and the "
                             f"names of eval.external: {', '.join(self.external) or 'none given'})")
        for condition, key in (("external", "external_file"), ("checkpoint", "checkpoint")):
            if condition in self.conditions and not getattr(self, key):
                raise ValueError(f"{key}: needed by the {condition} condition (or drop {condition} from conditions)")

    @property
    def sources(self) -> dict[str, str]:
        """Every condition whose self-edits are read from a file, name -> file, in order: `external`
        (`external_file`) first, then the named sources of `external`."""
        return ({"external": self.external_file} if self.external_file else {}) | self.external


@dataclass(frozen=True)
class CptConfig:
    """Continued pretraining (`seal knowledge cpt`): one training run on many passages and their self-edits."""

    mode: Literal["full", "lora"] = opt(
        "full", "full: full fine-tuning (paper v2; the default for comparisons with the paper); lora: one LoRA "
        "(paper v1 and SEAL's CPT.sh)")
    epochs: int = opt(3, "passes over the pooled documents (SEAL's CPT.sh: 3)", COUNT)
    learning_rate: float = opt(1e-3, "AdamW learning rate of lora mode, linear decay to 0 (SEAL's CPT.sh: 1e-3)",
                               POSITIVE)
    full_learning_rate: float = opt(1e-5, "learning rate of full mode (our choice, a usual full fine-tuning rate: "
                                          "the v2 rate is not in the sources we have)", POSITIVE)
    batch_size: int = opt(4, "documents per step (SEAL's CPT.sh: 4)", COUNT)
    grad_accum: int = opt(2, "gradient accumulation steps (SEAL's CPT.sh: 2)", COUNT)
    lora: LoraConfig = opt(LoraConfig(), "LoRA of lora mode (SEAL's CPT.sh: r 32, alpha 64, dropout 0)")
    passage_per_self_edit: bool = opt(
        False, "repeat the passage once per self-edit, as SEAL's CPT.py does (false: each passage once)")

    @property
    def lr(self) -> float:
        """The learning rate of the chosen mode."""
        return self.learning_rate if self.mode == "lora" else self.full_learning_rate

    def __post_init__(self):
        check_ranges(self)


@dataclass(frozen=True)
class ContinualConfig:
    """Sequential self-edits (`seal knowledge continual`; paper Section 5, Figure 6; SEAL's continual_self_edits.sh)."""

    sequence_length: int = opt(8, "passages per sequence, each one self-edit and one kept LoRA update (paper: 8)",
                               COUNT)
    sequences: int = opt(64, "random sequences averaged (paper: 64; SEAL's continual_self_edits.sh runs 8 per job)",
                         COUNT)
    seed: int = opt(42, "draws the sequences (passages without replacement within a sequence); the same seed gives "
                        "the same sequences whatever the mitigation")
    mitigations: tuple[Literal["none", "replay", "kl"], ...] = opt(
        ("none",), "run each sequence once per entry, from the same base weights: none (the paper), replay "
        "(earlier passages' documents mixed into each update), kl (learning without forgetting: a KL penalty to the "
        "previous model on replayed documents, Li and Hoiem 2016)")
    replay_fraction: float = opt(0.5, "replayed documents per update, as a fraction of the new self-edit's documents "
                                      "(replay and kl; at least 1 once there is an earlier passage)", NON_NEGATIVE)
    kl_weight: float = opt(1.0, "weight of the KL penalty (kl mitigation)", NON_NEGATIVE)

    def __post_init__(self):
        check_ranges(self)
        if not self.mitigations or len(set(self.mitigations)) != len(self.mitigations):
            raise ValueError(f"mitigations: give at least one, each once, got {list(self.mitigations)}")


@dataclass(frozen=True)
class KnowledgeCoreSections:
    """The sections every knowledge command and `seal learn` (whose passages are a person's files) read: the model,
    its self-edits, inner loop and quiz."""

    run: RunConfig = opt(RunConfig(), "run directory and seed")
    model: ModelConfig = opt(ModelConfig(), "the model that writes self-edits and is adapted")
    self_edit: SelfEditConfig = opt(SelfEditConfig(), "self-edit sampling")
    inner: InnerConfig = opt(InnerConfig(), "inner loop (LoRA fine-tune on a self-edit)")
    quiz: QuizConfig = opt(QuizConfig(), "closed-book quiz and grading")

    def judges(self) -> list[tuple]:
        """(in use, key, value, judge section) of every LLM judge this config may call."""
        return [(self.quiz.metric == "judge", "quiz.metric", self.quiz.metric, self.quiz.judge)]

    def __post_init__(self):
        for used, key, value, judge in self.judges():
            if used and judge.backend == "openai" and not judge.base_url:
                section = key.split(".")[0]
                raise ValueError(f"{section}.judge.base_url: needed by {key}={value} with the openai backend, e.g. "
                                 f"https://api.openai.com/v1 (or set {section}.judge.backend=local)")


@dataclass(frozen=True)
class KnowledgeSections(KnowledgeCoreSections):
    """The sections every knowledge command reads; each command's config adds its own (one config per command, so
    `seal config show knowledge COMMAND` and a run's manifest hold only what that command reads)."""

    data: DataConfig = opt(DataConfig(), "passages")


@dataclass(frozen=True)
class KnowledgeEvalConfig(KnowledgeSections):
    """`seal knowledge eval` (and the benches): the single-passage table."""

    reward: RewardConfig = opt(RewardConfig(), "reward of a self-edit")
    eval: EvalConfig = opt(EvalConfig(), "conditions of the single-passage table")
    executor: ExecutorConfig = opt(ExecutorConfig(), "where inner loops run")
    generation: GenerationConfig = opt(GenerationConfig(), "the engine that samples self-edits and answers quizzes")

    def judges(self) -> list[tuple]:
        return super().judges() + [(self.reward.rated, "reward.kind", self.reward.kind, self.reward.judge)]


@dataclass(frozen=True)
class KnowledgeTrainConfig(KnowledgeEvalConfig):
    """`seal knowledge train`: ReST-EM rounds, evaluated on held-out passages with the eval command's conditions."""

    outer: OuterConfig = opt(OuterConfig(), "ReST-EM")


@dataclass(frozen=True)
class KnowledgeCptConfig(KnowledgeSections):
    """`seal knowledge cpt`: continued pretraining on many passages and their self-edits."""

    eval: EvalConfig = opt(EvalConfig(), "conditions (each trains once on every passage's documents)")
    generation: GenerationConfig = opt(GenerationConfig(), "the engine that samples self-edits (hf only here)")
    cpt: CptConfig = opt(CptConfig(), "continued pretraining")


@dataclass(frozen=True)
class KnowledgeContinualConfig(KnowledgeSections):
    """`seal knowledge continual`: sequential self-edits and the forgetting matrix."""

    continual: ContinualConfig = opt(ContinualConfig(), "sequential self-edits")


@dataclass(frozen=True)
class KnowledgeConfig(KnowledgeTrainConfig):
    """Every knowledge section at once: the Python API's config, which any knowledge recipe accepts."""

    cpt: CptConfig = opt(CptConfig(), "seal knowledge cpt (continued pretraining)")
    continual: ContinualConfig = opt(ContinualConfig(), "seal knowledge continual (sequential self-edits)")


COMMANDS = {"eval": KnowledgeEvalConfig, "train": KnowledgeTrainConfig, "cpt": KnowledgeCptConfig,
            "continual": KnowledgeContinualConfig}  # the config class of each `seal knowledge` command
