"""Text to token ids, one rule for every path: generation prompts, quiz scoring, ARC test-time training, M-step rows
and vLLM prompts (`encode`); the ids generation stops at (`stop_token_ids`); single-turn chat prompts (`chat_prompt`).

Data is text: a passage, title, question, self-edit or note holding a special token's string (`<|im_end|>`,
`<|endoftext|>`, Llama-3's `<|eot_id|>`) must not become that control token (huggingface/transformers#29279: it would
close the user turn inside the passage, or train an EOS mid-document). Only the markers a chat template writes around
the user's text (`chat_prompt`) and the tokens the tokenizer adds (BOS) are control tokens. Text made only of data
(inner-loop documents, M-step completions, scored answers) is tokenized with `split_special_tokens=True`; a prompt is a
string (it is stored with a run and read back for the M-step), so `encode` finds the template's markers in it by the
template's layout. Text without a special token's string in its data gets the ids it always had.
"""

from __future__ import annotations

import re
import weakref

# tokenizer -> (its size, `_specials`' pattern), dropped with the tokenizer
_PATTERNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SLOT = "\U000f0000"  # a private-use code point: the user's text when the chat template is rendered around it


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of `text` as the model sees it on every path (generation prompts, quiz scoring, ARC test-time
    training, M-step rows, vLLM prompts): with the special tokens the tokenizer puts before a text (a Llama
    tokenizer's BOS) unless `text` starts with the BOS token that a chat template such as Llama-3's
    (`{{ bos_token }}...`) renders as text (a BOS string at the start of data is text); never an EOS the tokenizer appends (`add_eos_token`), which would end the
    prompt. So a prompt holds one BOS, whether it is plain or chat-rendered, as the inner loop's documents do.

    A special token's string is a control token only where the chat template wrote it (`template_markers`); in the
    data (a plain prompt's whole text, a chat prompt's user text) it is text, as `split_special_tokens=True` reads
    it, and the text between two markers is tokenized as one piece.

    Why: tokenizing chat-rendered text again with special tokens gives two BOS tokens (huggingface/alignment-handbook
    #127); tokenizing plain text without them gives none, unlike the documents the inner loop trains on.
    """
    specials = _specials(tokenizer)
    found = specials is not None and specials.search(text) is not None
    markers, (start, end) = template_markers(tokenizer, text) if found else ([], (0, len(text)))
    if not found or not specials.search(text, start, end):  # no special token's string in the data
        bos, eos = tokenizer.bos_token, tokenizer.eos_token
        add = not (bos and text.startswith(bos))
        ids = list(tokenizer(text, add_special_tokens=add)["input_ids"])
        if add and eos and ids[-1:] == [tokenizer.eos_token_id] and not text.endswith(eos):
            ids.pop()
        return ids
    add = not (markers and markers[0][0] == 0 and text[:markers[0][1]] == tokenizer.bos_token)
    ids, done = [], 0
    for a, b in markers:
        ids += _text_ids(tokenizer, text[done:a], add and done == 0)
        ids.append(tokenizer.convert_tokens_to_ids(text[a:b]))
        done = b
    return ids + _text_ids(tokenizer, text[done:], add and done == 0)


def _text_ids(tokenizer, text: str, add: bool) -> list[int]:
    """`text` tokenized with special tokens' strings as text; with the tokens the tokenizer puts before a text when
    `add`, never an EOS it appends."""
    if not text and not add:
        return []
    ids = list(tokenizer(text, add_special_tokens=add, split_special_tokens=True)["input_ids"])
    if add and tokenizer.eos_token and ids[-1:] == [tokenizer.eos_token_id]:  # appended: the text's is split
        ids.pop()
    return ids


def _specials(tokenizer) -> re.Pattern | None:
    """A pattern matching the tokenizer's special tokens' strings, longest first; None when it has none.

    Built once per tokenizer and its size (`_PATTERNS`; adding a token changes the size): with Gemma's 6,384 added
    tokens, reading them and building the pattern took about 25 ms, on every `encode` call."""
    size = len(tokenizer)
    cached = _PATTERNS.get(tokenizer)
    if cached is None or cached[0] != size:
        found = {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
        pattern = re.compile("|".join(map(re.escape, sorted(found, key=len, reverse=True)))) if found else None
        cached = _PATTERNS[tokenizer] = (size, pattern)
    return cached[1]


def template_markers(tokenizer, text: str) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """The spans (start, end) of the special tokens' strings in `text` that its chat template wrote, and the span of
    the user's text between them; ([], (0, len(text))) for text that is not laid out as `chat_prompt` renders it.

    `text` is laid out so when it starts with the special tokens the template writes before the user's text (the
    same strings in the same order, the same text before the first and after the last) and ends with what the
    template writes after it. The text between the markers before the user's text is not compared, so a prompt
    rendered by a template that writes today's date (Llama-3.2's) is read right on another day."""
    whole = [], (0, len(text))
    specials = _specials(tokenizer)
    if specials is None or not getattr(tokenizer, "chat_template", None):
        return whole
    parts = chat_prompt(tokenizer, _SLOT).split(_SLOT)
    if len(parts) != 2:
        return whole
    head, tail = parts
    before, found = list(specials.finditer(head)), list(specials.finditer(text))
    if not text.endswith(tail) or len(found) < len(before):
        return whole
    if before:
        kept = found[:len(before)]
        lead, rest = head[:before[0].start()], head[before[-1].end():]
        if ([m.group() for m in kept] != [m.group() for m in before] or text[:kept[0].start()] != lead
                or not text.startswith(rest, kept[-1].end())):
            return whole
        start = kept[-1].end() + len(rest)
    elif text.startswith(head):
        start = len(head)
    else:
        return whole
    end = len(text) - len(tail)
    if start > end:
        return whole
    markers = [m.span() for m in found[:len(before)]] + [(end + a, end + b) for a, b in
                                                          (m.span() for m in specials.finditer(tail))]
    return markers, (start, end)


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


def chat_prompt(tokenizer, user: str, cue: str = "") -> str:
    """`user` as a single-turn chat with the generation prompt, or for tokenizers without a template (a base model)
    plain text: `user` then `cue`, the completion's cue (say "\nAnswer:") that the template's generation prompt
    stands for; without one a base model continues the user's text instead of answering it."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                             add_generation_prompt=True)
    return user + cue
