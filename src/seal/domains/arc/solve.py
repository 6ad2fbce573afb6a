"""Answering an ARC task's test inputs with a model: prompts over views, one batched greedy generation, a vote.

For each test input, each geometric view (`augment.geometric_views()`, chosen by `solve.views`) and each
demonstration subset (`solve.demos`: leave-one-out, each prompt omitting one demonstration, as SEAL's and marc's
inference), the task's ARC prompt (`format.format_task_prompt`) goes into the tokenizer's chat template as the user
message. Every prompt of the task is decoded greedily in one `HFGenerator.generate` call (sorted by length, so batches
pad little). Each output is parsed strictly (`format.text_to_grid`), mapped back with the view's `invert_grid`, and
`vote.vote` keeps `solve.attempts` (2) answers per test input; a test input is solved when one of them equals its
solution (pass@2). With `solve.constrained` each answer is decoded under `format.grid_regex` of the shape the
prompt's demonstrations imply (`format.expected_shape`, in the prompt's view), so it is a grid by construction.

Test-time training pairs (`encode_pairs`) and inference prompts (`build_prompts`) go through the same
`models.generate.chat_prompt` and `models.generate.encode` (prompt = user message, target grid = assistant reply, then
EOS), so the model is trained on exactly the token layout it answers in (one BOS, as `HFGenerator` feeds it).

Departures from SEAL: prompts that would not fit the model's context (or `solve.max_prompt_tokens`) are dropped and
counted rather than truncated; the answer length is capped per task (`solve.auto_max_new_tokens`); ties in the vote are
broken deterministically (see `vote.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seal.domains.arc.augment import Augmenter, geometric_views
from seal.domains.arc.config import ArcSolveConfig
from seal.domains.arc.format import expected_shape, format_task_prompt, grid_regex, grid_to_text
from seal.domains.arc.grid import grid_to_list
from seal.domains.arc.tasks import Task
from seal.domains.arc.vote import candidates_from_texts, vote
from seal.inner.train import TrainExample
from seal.models.constrain import Constraint
from seal.models.context import model_context
from seal.models.generate import HFGenerator
from seal.models.tokens import chat_prompt, encode


def encode_pairs(tokenizer, pairs: list[tuple[str, str]], max_tokens: int, prompt_in_loss: bool
                 ) -> tuple[list[TrainExample], int]:
    """TTT pairs ``(ARC prompt, target grid text)`` as training examples in the chat layout of inference.

    Args:
        tokenizer: the model's tokenizer.
        pairs: from `ttt_data.make_ttt_examples`.
        max_tokens: examples longer than this are dropped (marc drops, never truncates, long examples).
        prompt_in_loss: the `all_tokens` strategy (prompt and answer in the loss); False masks the prompt.

    Returns:
        The examples (ids = prompt, target, EOS) and how many were dropped as too long.
    """
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    out, dropped = [], 0
    for prompt, target in pairs:
        p = encode(tokenizer, chat_prompt(tokenizer, prompt))
        t = list(tokenizer(target, add_special_tokens=False, split_special_tokens=True)["input_ids"]) + eos
        if len(p) + len(t) > max_tokens:
            dropped += 1
            continue
        out.append(TrainExample(p + t, 0 if prompt_in_loss else len(p)))
    return out, dropped


def select_views(names) -> list[Augmenter]:
    """The geometric views named in `names` (their `__str__`), in `geometric_views()` order."""
    return [v for v in geometric_views() if str(v) in set(names)]


def demo_subsets(task: Task, mode: str) -> list[tuple]:
    """Demonstration tuples to prompt with: leave-one-out, all, or both (all for a one-demonstration task)."""
    demos = task.train
    loo = [tuple(d for k, d in enumerate(demos) if k != i) for i in range(len(demos))] if len(demos) > 1 else []
    if mode == "all" or not loo:
        return [demos]
    return loo if mode == "leave-one-out" else [demos] + loo


@dataclass
class SolvePrompt:
    test: int  # index of the test input
    view: int  # index into the views
    text: str  # chat-formatted prompt
    n_tokens: int
    shape: tuple[int, int] | None = None  # the answer shape its demonstrations imply (format.expected_shape)


def build_prompts(tokenizer, task: Task, views: list[Augmenter], demos: str) -> list[SolvePrompt]:
    """Every prompt of `task`: test inputs x views x demonstration subsets, chat-formatted and measured."""
    out = []
    for vi, view in enumerate(views):
        seen = view.apply_to_task(task)
        for subset in demo_subsets(seen, demos):
            for ti, test in enumerate(seen.test):
                text = chat_prompt(tokenizer, format_task_prompt(subset, test.input))
                out.append(SolvePrompt(ti, vi, text, len(encode(tokenizer, text)), expected_shape(subset, test.input)))
    return out


def answer_budget(tokenizer, task: Task, cfg: ArcSolveConfig) -> int:
    """Max new tokens for an answer: 1.25x the longest grid of the task in tokens (+ EOS), under the cap."""
    if not cfg.auto_max_new_tokens:
        return cfg.max_new_tokens
    texts = [grid_to_text(g) for g in task.grids()] + [grid_to_text(g.T) for g in task.grids()]
    longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    return min(cfg.max_new_tokens, math.ceil(1.25 * longest) + 2)


def context_limit(model, cfg: ArcSolveConfig, max_new_tokens: int) -> int:
    """The longest prompt allowed: `max_prompt_tokens`, and the model's context (`models.context.model_context`)
    less the answer."""
    positions = model_context(model) or 10 ** 9
    return min(cfg.max_prompt_tokens, positions - max_new_tokens)


def check_fits(prompts: list[SolvePrompt], n_tests: int, limit: int) -> str | None:
    """A reason when some test input has no prompt within `limit` tokens, else None."""
    for ti in range(n_tests):
        lengths = [p.n_tokens for p in prompts if p.test == ti]
        if not lengths or min(lengths) > limit:
            return f"test input {ti}: shortest prompt has {min(lengths, default=0)} tokens, over the limit of {limit}"
    return None


@dataclass
class SolveResult:
    """Answers to every test input of one task."""

    attempts: list[list[np.ndarray]]  # per test input, up to `attempts` grids, best first
    solved: list[bool | None]  # per test input; None without a known solution
    n_prompts: int = 0
    n_dropped: int = 0  # prompts over the length limit
    n_parse_failures: int = 0  # outputs that are not a well-formed grid
    constrained: bool = False  # answers decoded under the grid grammar (solve.constrained)
    max_prompt_tokens: int = 0
    max_new_tokens: int = 0
    sample_output: str = ""  # the shortest prompt's raw output, for inspection
    reason: str | None = None  # why the task could not be attempted

    @property
    def all_solved(self) -> bool:
        return bool(self.solved) and all(s is True for s in self.solved)

    def details(self) -> dict:
        """JSON-ready summary (attempts as nested lists)."""
        return {"attempts": [[grid_to_list(g) for g in a] for a in self.attempts], "solved": self.solved,
                "n_prompts": self.n_prompts, "n_dropped_prompts": self.n_dropped,
                "n_parse_failures": self.n_parse_failures, "constrained_answers": self.constrained,
                "max_prompt_tokens": self.max_prompt_tokens,
                "max_new_tokens": self.max_new_tokens, "sample_output": self.sample_output[:500],
                **({"reason": self.reason} if self.reason else {})}


def solve_task(model, tokenizer, task: Task, cfg: ArcSolveConfig) -> SolveResult:
    """Answer each test input of `task` with `model` (greedy), voting over views and demonstration subsets.

    Args:
        model: the (possibly adapted) model, in eval mode.
        tokenizer: its tokenizer (left padding, as `seal.models.load` returns it).
        task: the task; test outputs, when known, decide `solved`.
        cfg: the solve section.

    Returns:
        A `SolveResult`; with `reason` set (and nothing solved) when some test input has no prompt that fits.
    """
    views = select_views(cfg.views)
    budget = answer_budget(tokenizer, task, cfg)
    limit = context_limit(model, cfg, budget)
    prompts = build_prompts(tokenizer, task, views, cfg.demos)
    n_tests = len(task.test)
    result = SolveResult([[] for _ in range(n_tests)], [None] * n_tests, max_new_tokens=budget,
                         constrained=cfg.constrained)
    result.reason = check_fits(prompts, n_tests, limit)
    if result.reason:
        result.solved = [False if t.output is not None else None for t in task.test]
        return result
    kept = sorted((p for p in prompts if p.n_tokens <= limit), key=lambda p: p.n_tokens)
    result.n_prompts, result.n_dropped = len(kept), len(prompts) - len(kept)
    result.max_prompt_tokens = max(p.n_tokens for p in kept)
    constraints = [Constraint("regex", grid_regex(p.shape)) for p in kept] if cfg.constrained else None
    texts = HFGenerator(model, tokenizer, cfg.batch_size).generate([p.text for p in kept], max_new_tokens=budget,
                                                                   constraint=constraints)
    result.sample_output = texts[0]
    for ti, test in enumerate(task.test):
        by_view = []
        for vi, view in enumerate(views):
            mine = [t for p, t in zip(kept, texts) if p.test == ti and p.view == vi]
            by_view.append(candidates_from_texts(mine, view))
        result.n_parse_failures += sum(g is None for c in by_view for g in c)
        result.attempts[ti] = vote(by_view, cfg.attempts)
        if test.output is not None:
            result.solved[ti] = any(np.array_equal(a, test.output) for a in result.attempts[ti])
    return result
