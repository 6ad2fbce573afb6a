"""What the knowledge-incorporation commands check and choose before they run (Table 2 of arXiv 2506.10943):
the passages (`choose_passages`, `plan_passages`), the file-given self-edit sources (`source_self_edits`), the
config against its files (`check_config`) and the run's lengths against the model's context (`check_lengths`).
The conditions themselves run through the generic runner (`seal.evaluation`) as `seal.domains.knowledge.plugin`
names them.
"""

from __future__ import annotations

from seal.config import missing_model_dir
from seal.domains.knowledge.config import (KnowledgeEvalConfig, KnowledgeSections, KnowledgeTrainConfig,
                                           SelfEditConfig)
from seal.domains.knowledge.data import Passage, load_passages, passage_id, select_passages
from seal.domains.knowledge.prompts import load_families
from seal.domains.knowledge.selfedit import load_external_self_edits, render_prompt
from seal.errors import ConfigError, DataError
from seal.models.vllm_backend import require_vllm, vllm_max_lora_rank
from seal.progress import console
from seal.store.runs import Run


def choose_passages(cfg: KnowledgeEvalConfig, default_seed: int | None = None) -> list[Passage]:
    """`data.n` passages of `data.source` (all when 0) after the shuffle (`data.seed`, else `default_seed`; None keeps
    file order) and `data.offset`.

    Raises:
        DataError: none selected, or fewer than `data.n` (a table of fewer passages than asked for would pass for it).
    """
    seed = cfg.data.seed if cfg.data.seed is not None else default_seed
    passages = select_passages(load_passages(cfg.data.source), cfg.data.n or None, seed, offset=cfg.data.offset)
    if not passages or len(passages) < cfg.data.n:
        raise DataError(f"{cfg.data.source}: {len(passages)} passage(s) selected, data.n={cfg.data.n} asked for "
                        f"(data.offset={cfg.data.offset})")
    return passages


def plan_passages(cfg: KnowledgeTrainConfig) -> tuple[list[Passage], list[list[Passage]]]:
    """`seal knowledge train`: the held-out evaluation passages and the disjoint training passages of each round.
    Passages are shuffled once with `data.seed` (0 when unset), `data.offset` skipped and `data.n` taken (all when 0);
    of those the first `outer.eval_contexts` are held out and each round takes the next `outer.contexts_per_round`,
    so the rounds' training passages are disjoint from each other and from the evaluation passages.
    (`data.seed=42, data.offset=200` trains on SQuAD dev passages outside SEAL's 200 evaluation passages.)

    Raises:
        DataError: fewer passages than `data.n`, or too few for the rounds asked for.
    """
    from seal.domains.plugin import split_rounds

    chosen = choose_passages(cfg, default_seed=0)
    return split_rounds(chosen, cfg.outer, f"{cfg.data.source}: {len(chosen)} passages "
                                           f"(data.n={cfg.data.n}, data.offset={cfg.data.offset})")


def source_self_edits(name: str, path: str, passages: list[Passage], k: int) -> dict[str, list[str]]:
    """The first `k` self-edits of every one of `passages` from the file of source `name` (SEAL's layout; a passage
    is matched by its id, else by its title and text), by passage id. Every source gives the same indices 0..k-1,
    so conditions read from different files pair fairly.

    Raises:
        DataError: the file is malformed, misses a passage, or holds fewer than `k` self-edits for one."""
    by_key = load_external_self_edits(path)
    external = {p.id: by_key.get(p.id) or by_key.get(passage_id(p.title, p.context)) for p in passages}
    key = "eval.external_file" if name == "external" else f"eval.external.{name}"
    missing = [p for p in passages if external[p.id] is None]
    if missing:
        raise DataError(f"{path} ({key}): no self-edits for {len(missing)} selected passage(s), e.g. "
                        f"{missing[0].title!r} (id {missing[0].id}); use the same passages as data.source")
    short = [p for p in passages if len(external[p.id]) < k]
    if short:
        raise DataError(f"{path} ({key}): {len(external[short[0].id])} self-edit(s) for {short[0].title!r} "
                        f"(id {short[0].id}) but self_edit.k={k}; lower self_edit.k so every source gives the same "
                        f"self-edits")
    return {p.id: external[p.id][:k] for p in passages}


def check_family(section: SelfEditConfig) -> None:
    """The prompt family exists (every template of `families_file` is checked as it loads).

    Raises:
        ConfigError: an unknown family (the known ones named), or a malformed families file."""
    families = load_families(section.families_file)
    if section.family not in families:
        raise ConfigError(f"unknown prompt family {section.family!r} (known: {', '.join(families)})")


def check_config(cfg: KnowledgeEvalConfig, served: bool = True, passages: list[Passage] = ()) -> None:
    """Fail before loading anything on what the config and its files show to be wrong: the prompt families (every
    template), every file-given source (`eval.external_file`, `eval.external`), which must cover `passages`, the
    passages the command evaluates, with `self_edit.k` self-edits each. `served`: the
    command can use the vLLM backend (eval and train; cpt and continual generate with HF only)."""
    if cfg.generation.backend == "vllm":
        if not served:
            raise ConfigError("generation.backend=vllm is used by knowledge eval and train; this command needs hf")
        if cfg.inner.multi > 1:
            raise ConfigError("generation.backend=vllm serves one LoRA per self-edit; set inner.multi=1")
        vllm_max_lora_rank(cfg.inner.lora.r)  # a rank vLLM cannot serve fails here, before any model loads
        require_vllm()
    check_family(cfg.self_edit)
    for name, path in cfg.eval.sources.items():
        source_self_edits(name, path, passages, cfg.self_edit.k)
    if "checkpoint" in cfg.eval.conditions and missing_model_dir(cfg.eval.checkpoint):
        raise ConfigError(f"eval.checkpoint: no such directory: {cfg.eval.checkpoint}")


def check_lengths(cfg: KnowledgeSections, model, tokenizer, passages: list[Passage], self_edits: bool = True,
                  hint: str = "") -> dict:
    """The run's lengths against the model's context (`seal.models.context`), before any work.

    Every question's quiz prompt with its gold answer must fit the context, and, with room for one new token, every
    passage's self-edit prompt when the command samples self-edits (`self_edits`) and its self-quiz prompt under a
    self-quiz reward. Budgets over the context (`inner.max_doc_tokens`, `self_edit.max_new_tokens`,
    `quiz.max_new_tokens`, `reward.self_quiz.max_new_tokens` under a self-quiz reward, `inner.reference_pad_length`
    in reference mode, `outer.sft.max_length` in ReST-EM) are capped to it where they are used; each cap is printed
    as one line. `hint` ends the error
    of a prompt that cannot fit (what the user can change, e.g. `learn.max_passage_tokens`).

    Returns:
        The manifest's `context` record: {"tokens": the context, "capped": {key: {"asked", "used"}}}; {} when the
        model's config names no context.

    Raises:
        DataError: naming the passage (and question) and both lengths.
    """
    from seal.domains.knowledge.quiz import quiz_token_ids
    from seal.domains.knowledge.selfquiz import quiz_prompt
    from seal.models.context import context_caps, model_context, require_fit
    from seal.models.tokens import encode

    context = model_context(model)
    if context is None:
        return {}
    families = load_families(cfg.self_edit.families_file) if self_edits else {}
    reward = getattr(cfg, "reward", None)  # cpt and continual have no reward section
    self_quiz = reward is not None and reward.kind.startswith("self-quiz")
    for p in passages:
        if self_edits:
            n = len(encode(tokenizer, render_prompt(tokenizer, cfg.self_edit, p, families)))
            require_fit(f"passage {p.id} ({p.title!r:.60}): its self-edit prompt with one new token", n + 1, context,
                        hint)
        if self_quiz:
            n = len(encode(tokenizer, quiz_prompt(p)))
            require_fit(f"passage {p.id} ({p.title!r:.60}): its self-quiz prompt with one new token", n + 1, context,
                        hint)
        for i, (p_ids, a_ids) in enumerate(quiz_token_ids(tokenizer, p, cfg.quiz.style)):
            require_fit(f"passage {p.id} ({p.title!r:.60}), question {i + 1}: the quiz prompt and gold answer",
                        len(p_ids) + len(a_ids), context)
    budgets = {"inner.max_doc_tokens": cfg.inner.max_doc_tokens, "quiz.max_new_tokens": cfg.quiz.max_new_tokens,
               "self_edit.max_new_tokens": cfg.self_edit.max_new_tokens}
    if self_quiz:
        budgets["reward.self_quiz.max_new_tokens"] = reward.self_quiz.max_new_tokens
    if hasattr(cfg, "outer"):  # knowledge train: the M-step's rows (`outer.sft.sft_and_merge`)
        budgets["outer.sft.max_length"] = cfg.outer.sft.max_length
    if cfg.inner.mode == "reference":
        budgets["inner.reference_pad_length"] = cfg.inner.reference_pad_length
    capped = context_caps(context, budgets)
    for key, cap in capped.items():
        console.log(f"note: {key}={cap['asked']} is over the model's context of {context} tokens: capped to "
                    f"{cap['used']} (recorded in the manifest)", markup=False, highlight=False)
    return {"tokens": context, "capped": capped}


def prepare(run: Run, cfg: KnowledgeEvalConfig, served: bool = True) -> tuple[list[Passage], object, object]:
    """The start of every passage-table command: threads, passages, config checks, the model, its context against
    the run's lengths (`check_lengths`), and the manifest's data ids, model fingerprint and context record."""
    from seal.models import fingerprint, load_model

    passages = choose_passages(cfg)
    check_config(cfg, served=served, passages=passages)
    model, tokenizer = load_model(cfg.model, cfg.run.seed)
    context = check_lengths(cfg, model, tokenizer, passages,
                            self_edits=bool({"self-edit", "checkpoint"} & set(cfg.eval.conditions)))
    run.update_manifest(data_ids=[p.id for p in passages], model_fingerprint=fingerprint(model), context=context)
    return passages, model, tokenizer


