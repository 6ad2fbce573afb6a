"""The model's context: how many positions it holds, read once from its config, and what must fit in it.

One policy for every command (the ARC domain's `solve.context_limit` reads the context here too):

- a length budget larger than the context (`inner.max_doc_tokens`, `self_edit.max_new_tokens`,
  `quiz.max_new_tokens`, ...) is capped to it; the command records the caps in the run's manifest
  (`context_caps`) and prints one line per key;
- training documents longer than the capped budget are truncated, as documents longer than the budget always were;
- generation never runs past the context: each HF batch generates at most the context less its longest prompt, each
  vLLM prompt at most the engine's `max_model_len` (itself capped to the context) less its length
  (`generation_room`); an over-long budget can thus end a prompt's generation earlier in an HF batch with a longer
  prompt than alone (for budgets that fit, nothing changes);
- a prompt that leaves no room at all (a self-edit prompt, a quiz prompt with its gold answer) is a one-line error
  before any work where the command knows its prompts in advance, naming the passage and the lengths.

Why cap rather than refuse: the budgets' defaults (2048-token documents, 1024-token self-edits) exceed the context of
small models (GPT-2: 1024 positions), and capping is what the model does anyway at its last position. Why not
truncate prompts: a self-edit or quiz prompt ends with its instruction, which a cut would remove.
"""

from __future__ import annotations

from seal.errors import DataError

# Config attributes that hold the number of positions, by architecture: Llama/Qwen/Mistral/GPT-NeoX/OPT...
# (`max_position_embeddings`, also GPT-2's alias of `n_positions`), GPT-2 and GPT-J (`n_positions`), BLOOM-style
# and ChatGLM configs (`max_sequence_length`, `seq_length`), older GPT-2 checkpoints (`n_ctx`).
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


def model_context(model) -> int | None:
    """The number of positions `model` (a transformers model, or a PEFT model over one) holds: the first positive
    integer among its config's `CONTEXT_KEYS` (the text config's for a multimodal config); None when it names none
    (then nothing is capped or checked).

    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model_context(GPT2LMHeadModel(GPT2Config(n_positions=64, n_embd=8, n_layer=1, n_head=1)))
    64
    """
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config()
    for key in CONTEXT_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def context_caps(context: int | None, budgets: dict[str, int]) -> dict[str, dict[str, int]]:
    """The budgets (config key -> tokens) larger than `context`, each with what is used instead (the context).

    >>> context_caps(256, {"inner.max_doc_tokens": 2048, "quiz.max_new_tokens": 64})
    {'inner.max_doc_tokens': {'asked': 2048, 'used': 256}}
    """
    if context is None:
        return {}
    return {key: {"asked": value, "used": context} for key, value in budgets.items() if value > context}


def within_context(model, tokens: int) -> int:
    """`tokens`, capped to the context of `model` (documents are truncated to this)."""
    context = model_context(model)
    return tokens if context is None else min(tokens, context)


def generation_room(context: int | None, prompt_lengths: list[int], max_new_tokens: int) -> int:
    """New tokens a batch of prompts (their token counts) may generate in a model of `context` positions (None:
    unknown, no cap): `max_new_tokens`, capped to the context less the longest prompt (the model holds no position
    past its context; a learned position table has no row for it).

    >>> generation_room(256, [100, 200], 1024), generation_room(None, [100], 1024)
    (56, 1024)

    Raises:
        DataError: the longest prompt leaves no room for a single new token (naming both lengths).
    """
    if context is None or not prompt_lengths:
        return max_new_tokens
    longest = max(prompt_lengths)
    if longest >= context:
        raise DataError(f"a prompt of {longest} tokens fills the model's context of {context} tokens: "
                        "no room to generate")
    return min(max_new_tokens, context - longest)


def require_fit(what: str, n_tokens: int, context: int | None, hint: str = "") -> None:
    """Raise a one-line DataError when `what` (e.g. "passage p1: self-edit prompt and one token") needs more than
    `context` tokens; `hint` names what to change."""
    if context is not None and n_tokens > context:
        raise DataError(f"{what} needs {n_tokens} tokens, over the model's context of {context} tokens"
                        + (f"; {hint}" if hint else ""))
