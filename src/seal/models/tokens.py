"""Text to token ids, one rule for every path: generation prompts, quiz scoring, ARC test-time training, M-step rows
and vLLM prompts (`encode`); the ids generation stops at (`stop_token_ids`); single-turn chat prompts (`chat_prompt`).
"""

from __future__ import annotations


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of `text` as the model sees it on every path (generation prompts, quiz scoring, ARC test-time
    training, M-step rows, vLLM prompts): with the special tokens the tokenizer puts before a text (a Llama
    tokenizer's BOS) unless `text` already starts with the BOS token, which a chat template such as Llama-3's
    (`{{ bos_token }}...`) renders as text; never an EOS the tokenizer appends (`add_eos_token`), which would end the
    prompt. So a prompt holds one BOS, whether it is plain or chat-rendered, as the inner loop's documents do.

    Why: tokenizing chat-rendered text again with special tokens gives two BOS tokens (huggingface/alignment-handbook
    #127); tokenizing plain text without them gives none, unlike the documents the inner loop trains on.
    """
    bos, eos = tokenizer.bos_token, tokenizer.eos_token
    add = not (bos and text.startswith(bos))
    ids = list(tokenizer(text, add_special_tokens=add)["input_ids"])
    if add and eos and ids[-1:] == [tokenizer.eos_token_id] and not text.endswith(eos):
        ids.pop()
    return ids


def stop_token_ids(model, tokenizer) -> list[int]:
    """The ids generation stops at: every id of `model.generation_config.eos_token_id` (an int or a list: Llama-3-
    Instruct lists <|eot_id|> next to <|end_of_text|>), then the tokenizer's EOS; no repeats, possibly empty.

    Passing only the tokenizer's EOS to `generate` would replace the model's list (vllm-project/vllm#4180)."""
    config = getattr(model, "generation_config", None)
    ids = getattr(config, "eos_token_id", None)
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return list(dict.fromkeys(ids))


def chat_prompt(tokenizer, user: str) -> str:
    """`user` as a single-turn chat with the generation prompt, or plain text for tokenizers without a template."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                             add_generation_prompt=True)
    return user
