"""Config of `seal learn` (our extension, not in the paper): the knowledge sections it reads (no `data`, no `eval`: its
passages are the files given, its only condition the adapter) plus `learn`.

Every value of the `learn` section is ours, and so are the defaults changed here from the knowledge commands' (the
paper's): they suit SmolLM2-135M-Instruct (the built-in model) on a CPU, as `configs/knowledge/demo.yaml` measured
(self-edits of at most 256 tokens, one training seed per inner loop, inner-loop learning rate 1e-3), and the reward
is `self-quiz`, since a person's files come with no questions.
"""

from __future__ import annotations

from dataclasses import dataclass

from seal.config import COUNT, POSITIVE, ExecutorConfig, GenerationConfig, InnerConfig, Range, check_ranges, opt
from seal.domains.knowledge.config import KnowledgeCoreSections, RewardConfig, SelfEditConfig

SELF_QUIZ_REWARDS = ("self-quiz", "self-quiz-accuracy")


@dataclass(frozen=True)
class GroundingConfig:
    """What of the model's own writing is kept: only what is found in its passage (`seal.learn.grounding`, ours)."""

    enabled: bool = opt(True, "keep a self-quiz question only when its answer and its question's words are found in "
                              "its passage, and train only on the sentences of a kept self-edit that are (each one "
                              "dropped is counted in the closing table and the model card, and listed by seal "
                              "report); off: both kept as written")
    threshold: float = opt(0.6, "share of a sentence's or question's content words (not stop words) that must be "
                                "found in the passage; its numbers, names and words like 'not' or 'least' must all "
                                "be (ours: 0.6 keeps 'Tor has twelve bridges.' for '12 bridges', 2 of 3 words; "
                                "higher drops more paraphrase, lower keeps more invention)", Range(0, 1))
    min_kept: float = opt(0.5, "share of a self-edit's sentences that must be grounded for it to be kept at all "
                               "(ours: its reward measured the whole text, which says little once most of it is "
                               "dropped; the next best self-edit of the passage is kept instead)", Range(0, 1))


@dataclass(frozen=True)
class LearnSection:
    """How passages are cut, how many self-edits each gets, and how the final adapter trains (all values ours)."""

    paths: tuple[str, ...] = opt((), "files and folders read (set by the command line's PATH arguments, absolute)")
    max_passage_tokens: int = opt(256, "passage length limit in tokens of the model's tokenizer (ours: a passage "
                                       "of the size of the built-in ones, within SmolLM2's inner-loop budget)", COUNT)
    k: int = opt(3, "self-edits sampled per passage; the one with the best positive reward is kept (ours)", COUNT)
    epochs: int = opt(3, "passes of the final adapter over the pooled documents (ours; SEAL's CPT.sh: 3)", COUNT)
    learning_rate: float = opt(1e-3, "AdamW learning rate of the final adapter, linear decay to 0 (ours; SEAL's "
                                     "CPT.sh: 1e-3)", POSITIVE)
    batch_size: int = opt(1, "documents per step of the final adapter (ours)", COUNT)
    out: str = opt("", "adapter output directory (empty: <run dir>/adapter)")
    into: str = opt("", "an adapter written by seal learn to continue from: its weights start the training, its "
                        "documents are replayed with the new ones; updated in place, the old one kept as "
                        "<into>.previous (set by --into)")
    quiz: str = opt("", "your own questions file (one `question<TAB>answer` a line) answered by the base model and "
                        "the adapter, scored as accuracy; kept in the adapter, so a later --into reports retention "
                        "on it (set by --quiz)")
    grounding: GroundingConfig = opt(GroundingConfig(), "what of the model's own writing is kept (ours)")

    def __post_init__(self):
        check_ranges(self)


@dataclass(frozen=True)
class LearnConfig(KnowledgeCoreSections):
    """`seal learn`: self-edits of a person's own passages, scored by self-written quizzes, trained into one LoRA."""

    self_edit: SelfEditConfig = opt(SelfEditConfig(max_new_tokens=256), "self-edit sampling (ours: at most 256 new "
                                                                        "tokens, as the CPU demo; learn.k per passage)")
    inner: InnerConfig = opt(InnerConfig(learning_rate=1e-3, seeds=1),
                             "inner loop that scores each self-edit (ours: lr 1e-3 and one seed, as the CPU demo); its "
                             "LoRA settings are also the final adapter's")
    reward: RewardConfig = opt(RewardConfig(kind="self-quiz"),
                               "reward of a self-edit: self-quiz or self-quiz-accuracy (the files have no questions)")
    executor: ExecutorConfig = opt(ExecutorConfig(), "where inner loops run")
    generation: GenerationConfig = opt(GenerationConfig(), "the engine that samples self-edits and answers quizzes "
                                                           "(hf only: seal learn refuses vllm)")
    learn: LearnSection = opt(LearnSection(), "seal learn")

    def __post_init__(self):
        super().__post_init__()
        if self.reward.kind not in SELF_QUIZ_REWARDS:
            raise ValueError(f"reward.kind: seal learn needs a self-written quiz ({', '.join(SELF_QUIZ_REWARDS)}), "
                             f"got {self.reward.kind!r}")
