"""The M-step's training rows: the self-edit prompt exactly as sampling fed it (one BOS with a BOS-adding tokenizer
and a chat template that starts with `{{ bos_token }}`: issue 16, section 2), then the self-edit and EOS in the loss."""

import json

import datasets
from trl import SFTConfig, SFTTrainer

from seal.config import LoraConfig, SftConfig
from seal.models import fingerprint, load
from seal.models.generate import HFGenerator
from seal.models.tokens import chat_prompt, encode
from seal.outer.sft import prompt_room, sft_and_merge, sft_rows


def test_rows_hold_the_prompt_as_sampling_feeds_it(bos_tiny):
    _, tok = bos_tiny
    prompt = chat_prompt(tok, "Write notes about Tor.")
    (row,) = sft_rows(tok, [(prompt, "Tor has twelve bridges.")])
    p, c = encode(tok, prompt), tok("Tor has twelve bridges.", add_special_tokens=False)["input_ids"]
    assert row["input_ids"][:2] == [tok.bos_token_id, p[1]] and row["input_ids"].count(tok.bos_token_id) == 1
    assert row["input_ids"] == p + c + [tok.eos_token_id]
    assert row["completion_mask"] == [0] * len(p) + [1] * (len(c) + 1)


def test_trl_trains_on_the_rows_as_given(bos_tiny, tmp_path):
    """TRL's pre-tokenized format (input_ids, completion_mask): ids kept, the prompt out of the loss."""
    model, tok = bos_tiny
    rows = sft_rows(tok, [(chat_prompt(tok, "Write notes about Tor."), "Tor has twelve bridges.")] * 2)
    args = SFTConfig(output_dir=str(tmp_path), completion_only_loss=True, max_length=512, report_to=[], use_cpu=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows), processing_class=tok)
    seen = trainer.train_dataset[0]
    assert seen["input_ids"] == rows[0]["input_ids"]
    n_prompt = rows[0]["completion_mask"].index(1)
    assert seen["labels"] == [-100] * n_prompt + rows[0]["input_ids"][n_prompt:]


def test_m_step_checkpoint_loads_and_writes(bos_tiny, tmp_path):
    model, tok = bos_tiny
    prompt = chat_prompt(tok, "Write notes about Tor.")
    cfg = SftConfig(lora=LoraConfig(r=4, alpha=8), epochs=1, batch_size=2, grad_accum=1, max_length=512)
    log = sft_and_merge(model, tok, [(prompt, "Tor has twelve bridges.")] * 2, cfg, tmp_path / "round-1", seed=0)
    assert log["steps"] == 1 and log["pairs"] == 2
    merged, merged_tok = load(str(tmp_path / "round-1"), dtype="fp32", device="cpu")
    assert encode(merged_tok, prompt) == encode(tok, prompt)  # the saved tokenizer still adds one BOS
    assert len(HFGenerator(merged, merged_tok).generate([prompt], max_new_tokens=2)) == 1


def test_rows_longer_than_max_length_are_left_out_and_counted(tiny, tmp_path):
    """Issue 30, kind 1: a row cut by `outer.sft.max_length` (in its prompt, or only its EOS) is not trained on, and
    the log counts it; TRL alone would drop the first silently and train the second without its end."""
    model, tok = load("tiny-llama", dtype="fp32", device="cpu")
    short = ("Notes on Ore.", " Ore has a mill.")
    long_prompt = ("Write what follows from the passage about Ore. " * 6, " Ore has a mill.")
    rows = sft_rows(tok, [short, long_prompt])
    max_length = len(rows[0]["input_ids"])
    assert len(rows[1]["input_ids"]) > max_length
    eos_cut = (short[0], short[1] + " x")  # its completion starts inside max_length, its EOS falls past it
    (cut,) = sft_rows(tok, [eos_cut])
    assert sum(cut["completion_mask"][:max_length]) > 0 and len(cut["input_ids"]) > max_length
    cfg = SftConfig(lora=LoraConfig(r=4, alpha=8), epochs=1, batch_size=1, grad_accum=1, max_length=max_length)
    log = sft_and_merge(model, tok, [short, long_prompt, eos_cut, short], cfg, tmp_path / "round-1", seed=0)
    assert (log["pairs"], log["pairs_trained"], log["pairs_left_out"]) == (4, 2, 2)
    assert log["steps"] == 2 and log["left_out_lengths"] == [len(rows[1]["input_ids"]), len(cut["input_ids"])]
    assert json.loads((tmp_path / "round-1" / "m_step.json").read_text()) == log


def test_an_m_step_with_no_row_that_fits_keeps_the_model(tmp_path):
    """Every kept self-edit too long: no crash (TRL's empty sampler raised ValueError), the checkpoint is the
    unchanged model and the log says why, as for a round where nothing was rewarded."""
    model, tok = load("tiny-llama", dtype="fp32", device="cpu")
    before = fingerprint(model)
    pairs = [("Write what follows from the passage about Ore. " * 4 + str(i), " Ore has a mill.") for i in range(3)]
    cfg = SftConfig(lora=LoraConfig(r=4, alpha=8), epochs=1, batch_size=1, grad_accum=1, max_length=16)
    log = sft_and_merge(model, tok, pairs, cfg, tmp_path / "round-1", seed=0)
    assert "outer.sft.max_length=16" in log["skipped"] and "steps" not in log
    assert (log["pairs"], log["pairs_trained"], log["pairs_left_out"]) == (3, 0, 3)
    saved, _ = load(str(tmp_path / "round-1"), dtype="fp32", device="cpu")
    assert fingerprint(saved) == before and not (tmp_path / "round-1.partial").exists()


def test_prompt_room_sorts_prompts_by_what_the_m_step_can_train(tiny):
    _, tok = tiny
    prompts = {"short": "Notes on Ore.", "long": "Write what follows from the passage about Ore. " * 6}
    n = {cid: len(encode(tok, p)) for cid, p in prompts.items()}
    assert prompt_room(tok, prompts, n["long"] + 1, 4) == ({"long": n["long"]}, {})
    assert prompt_room(tok, prompts, n["long"] + 2, 4) == ({}, {"long": n["long"]})
    assert prompt_room(tok, prompts, n["long"] + 5, 4) == ({}, {})


def test_the_m_step_keeps_to_the_models_context(tmp_path):
    """`outer.sft.max_length` above the model's context: rows past the context are left out like longer rows (a
    model with learned positions would fail on them; a RoPE model would train past what it holds)."""
    model, tok = load("tiny-llama", dtype="fp32", device="cpu")
    short = ("Notes on Ore.", " Ore has a mill.")
    (row,) = sft_rows(tok, [short])
    model.config.max_position_embeddings = len(row["input_ids"])  # a RoPE model's context is its config's word
    long_prompt = ("Write what follows from the passage about Ore. " * 3, " Ore has a mill.")
    cfg = SftConfig(lora=LoraConfig(r=4, alpha=8), epochs=1, batch_size=1, grad_accum=1, max_length=512)
    log = sft_and_merge(model, tok, [short, long_prompt], cfg, tmp_path / "round-1", seed=0)
    assert (log["pairs_trained"], log["pairs_left_out"], log["max_length"]) == (1, 1, len(row["input_ids"]))
