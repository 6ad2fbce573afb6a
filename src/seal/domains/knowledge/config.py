"""Config of the knowledge-incorporation commands (`seal knowledge eval|train`), defaults from the paper.

Sources: paper Section 4.2 and Appendix B (Qwen2.5-7B; SQuAD; LoRA r 32 / alpha 64, lr 1e-3, 10 epochs, batch 1;
5 self-edits per passage; 3 seeds per reward; ReST-EM rounds of 50 passages; M-step LoRA r 64, lr 3e-4, 2 epochs,
effective batch 10). Values that the paper does not state follow SEAL's released code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from seal.config import InnerConfig, ModelConfig, OuterConfig, RunConfig, opt
from seal.executors.base import ExecutorConfig
from seal.domains.knowledge.quiz import QuizConfig


@dataclass(frozen=True)
class DataConfig:
    source: str = opt("builtin", "builtin, squad (Hugging Face hub), or a JSON file (SEAL's or SQuAD v1.1 layout)")
    n: int = opt(0, "passages to use (0 = all)")
    seed: Optional[int] = opt(None, "shuffle seed before taking n (null keeps file order; 42 = SEAL's eval set)")
    offset: int = opt(0, "skip this many passages after shuffling")


@dataclass(frozen=True)
class SelfEditConfig:
    family: str = opt("implications", "prompt family (implications, implications-long, implications-very-long, "
                                      "rewrite, self-qa, no-prompt, or one from families_file)")
    families_file: str = opt("", "YAML file of extra families: name -> template with {title} and {passage}")
    k: int = opt(5, "self-edits sampled per passage (paper: 5)")
    temperature: float = opt(1.0, "sampling temperature (paper: 1.0)")
    top_p: float = opt(0.95, "nucleus sampling (SEAL's code: 0.95)")
    max_new_tokens: int = opt(1024, "self-edit length limit")
    batch_size: int = opt(8, "prompts per generate call")
    chat: Literal["auto", "chat", "plain"] = opt("auto", "auto: the chat template when the tokenizer has one")


@dataclass(frozen=True)
class RewardConfig:
    kind: Literal["accuracy", "loglik"] = opt(
        "accuracy", "accuracy: quiz accuracy gain over the base model (paper); loglik: gain in mean log-likelihood of "
        "the gold answers (continuous, no generation, far less noisy on small quizzes)")


@dataclass(frozen=True)
class EvalConfig:
    conditions: tuple[str, ...] = opt(
        ("base", "passage", "self-edit"),
        "columns of the single-passage table: base, passage, self-edit, external, checkpoint")
    external_file: str = opt("", "self-edits in SEAL's layout (`completions` per passage) for the external condition")
    checkpoint: str = opt("", "model whose self-edits the checkpoint condition trains on (a trained round, say)")


@dataclass(frozen=True)
class KnowledgeConfig:
    run: RunConfig = opt(RunConfig(), "run directory and seed")
    model: ModelConfig = opt(ModelConfig(), "the model that writes self-edits and is adapted")
    data: DataConfig = opt(DataConfig(), "passages")
    self_edit: SelfEditConfig = opt(SelfEditConfig(), "self-edit sampling")
    inner: InnerConfig = opt(InnerConfig(), "inner loop (LoRA fine-tune on a self-edit)")
    quiz: QuizConfig = opt(QuizConfig(), "closed-book quiz and grading")
    reward: RewardConfig = opt(RewardConfig(), "reward of a self-edit")
    eval: EvalConfig = opt(EvalConfig(), "seal knowledge eval")
    outer: OuterConfig = opt(OuterConfig(), "seal knowledge train (ReST-EM)")
    executor: ExecutorConfig = opt(ExecutorConfig(), "where inner loops run")
