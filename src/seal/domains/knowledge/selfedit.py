"""Self-edit prompts for passages, and self-edits written elsewhere (SEAL's JSON layout).

Instruct models get their chat template (`chat: auto`), base models the plain prompt. Sampling itself is generic
(`seal.outer.sample`), shared with the ARC domain.
"""

from __future__ import annotations

from pathlib import Path

from seal.domains.knowledge.config import SelfEditConfig
from seal.domains.knowledge.data import Passage, passage_id
from seal.domains.knowledge.prompts import self_edit_prompt
from seal.errors import DataError
from seal.jsonfile import read_json
from seal.models.generate import chat_prompt


def render_prompt(tokenizer, cfg: SelfEditConfig, passage: Passage, families: dict[str, str]) -> str:
    instruction = self_edit_prompt(cfg.family, passage.title, passage.context, families)
    use_chat = cfg.chat == "chat" or (cfg.chat == "auto" and getattr(tokenizer, "chat_template", None))
    return chat_prompt(tokenizer, instruction) if use_chat else instruction


def load_external_self_edits(path: str | Path) -> dict[str, list[str]]:
    """Self-edits written elsewhere, in SEAL's layout (`title`, `context`, `completions`), by passage id."""
    items = read_json(path, "external self-edits file")
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a list of passages with 'completions'")
    out = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("completions"), list):
            raise DataError(f"{path}: passage {i} has no 'completions' list")
        out[item.get("id") or passage_id(item.get("title", ""), item.get("context", ""))] = [
            c if isinstance(c, str) else "" for c in item["completions"]]
    return out
