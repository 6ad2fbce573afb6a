"""Sampling self-edits: K generations per passage from the current model, in batches.

Instruct models get their chat template (`chat: auto`), base models the plain prompt. Every self-edit is returned with
the exact prompt, family, sampling settings and seed, which the store keeps beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from seal.domains.knowledge.config import SelfEditConfig
from seal.domains.knowledge.data import Passage, passage_id
from seal.domains.knowledge.prompts import load_families, self_edit_prompt
from seal.errors import DataError
from seal.models.generate import HFGenerator, chat_prompt


@dataclass(frozen=True)
class SelfEdit:
    passage_id: str
    index: int
    family: str
    prompt: str
    text: str
    sampling: dict
    seed: int


def render_prompt(tokenizer, cfg: SelfEditConfig, passage: Passage, families: dict[str, str]) -> str:
    instruction = self_edit_prompt(cfg.family, passage.title, passage.context, families)
    use_chat = cfg.chat == "chat" or (cfg.chat == "auto" and getattr(tokenizer, "chat_template", None))
    return chat_prompt(tokenizer, instruction) if use_chat else instruction


def sample_self_edits(model, tokenizer, passages: Sequence[Passage], cfg: SelfEditConfig, seed: int) -> list[list[SelfEdit]]:
    """`cfg.k` sampled self-edits per passage (one list per passage, in order)."""
    families = load_families(cfg.families_file)
    prompts = [render_prompt(tokenizer, cfg, p, families) for p in passages]
    flat_prompts = [prompt for prompt in prompts for _ in range(cfg.k)]
    texts = HFGenerator(model, tokenizer, cfg.batch_size).generate(
        flat_prompts, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p, seed=seed)
    sampling = {k: v for k, v in asdict(cfg).items() if k in ("temperature", "top_p", "max_new_tokens", "chat")}
    out = []
    for i, passage in enumerate(passages):
        out.append([SelfEdit(passage.id, j, cfg.family, prompts[i], texts[i * cfg.k + j], sampling, seed)
                    for j in range(cfg.k)])
    return out


def load_external_self_edits(path: str | Path) -> dict[str, list[str]]:
    """Self-edits written elsewhere, in SEAL's layout (`title`, `context`, `completions`), by passage id."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"external self-edits file not found: {path}")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a list of passages with 'completions'")
    out = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("completions"), list):
            raise DataError(f"{path}: passage {i} has no 'completions' list")
        out[item.get("id") or passage_id(item.get("title", ""), item.get("context", ""))] = [
            c if isinstance(c, str) else "" for c in item["completions"]]
    return out
