"""Self-edit prompts for passages, and self-edits written elsewhere (SEAL's JSON layout).

Instruct models get their chat template (`chat: auto`), base models the plain prompt ending with its completion cue.
Sampling itself is generic (`seal.outer.sample`), shared with the ARC domain.
"""

from __future__ import annotations

from pathlib import Path

from seal.domains.knowledge.config import SelfEditConfig
from seal.domains.knowledge.data import Passage, passage_key
from seal.domains.knowledge.prompts import completion_cue, self_edit_prompt
from seal.errors import DataError
from seal.jsonfile import read_json
from seal.models.tokens import chat_prompt


def render_prompt(tokenizer, cfg: SelfEditConfig, passage: Passage, families: dict[str, str]) -> str:
    """The self-edit prompt of `passage`: the family's instruction in the chat template (`self_edit.chat` chat, or
    auto with a template), else as a completion prompt ending with the family's cue (`prompts.completion_cue`)."""
    instruction = self_edit_prompt(cfg.family, passage.title, passage.context, families)
    use_chat = cfg.chat == "chat" or (cfg.chat == "auto" and getattr(tokenizer, "chat_template", None))
    cue = completion_cue(cfg.family, families)
    return chat_prompt(tokenizer, instruction, cue) if use_chat else instruction + cue


def load_external_self_edits(path: str | Path) -> dict[str, list[str]]:
    """Self-edits written elsewhere, in SEAL's layout (`title`, `context`, `completions`: a list of texts), by
    passage id (`id`, else the hash of title and context, as `load_passages` gives).

    Raises:
        DataError: naming the file, the passage and the bad value: not a list, an entry without a non-empty
            `completions` list, a completion that is not text or is blank (nothing to train on: a model's own blank
            self-edit is a result, a blank one in a file is a mistake in the file), a bad id, or two entries for
            one passage.
    """
    items = read_json(path, "external self-edits file")
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a list of passages with 'completions', got {type(items).__name__}")
    out, first = {}, {}
    for i, item in enumerate(items):
        where = f"{path}: passage {i}"
        completions = item.get("completions") if isinstance(item, dict) else None
        if not isinstance(completions, list) or not completions:
            raise DataError(f"{where}: needs a non-empty 'completions' list, got {completions!r:.60}")
        for j, text in enumerate(completions):
            if not isinstance(text, str):
                raise DataError(f"{where}: completion {j} must be text, got {text!r:.60}")
            if not text.strip():
                raise DataError(f"{where}: completion {j} is blank, got {text!r:.60}")
        pid = passage_key(where, item.get("title"), item.get("context", ""), item.get("id"))
        if pid in out:
            raise DataError(f"{where}: a second entry for the passage of entry {first[pid]} (id {pid!r})")
        out[pid], first[pid] = completions, i
    return out
