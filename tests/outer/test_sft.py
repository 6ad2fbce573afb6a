"""The M-step's training rows: the self-edit prompt exactly as sampling fed it (one BOS with a BOS-adding tokenizer
and a chat template that starts with `{{ bos_token }}`: issue 16, section 2), then the self-edit and EOS in the loss."""

import datasets
from trl import SFTConfig, SFTTrainer

from seal.config import LoraConfig, SftConfig
from seal.models import load
from seal.models.generate import HFGenerator
from seal.models.tokens import chat_prompt, encode
from seal.outer.sft import sft_and_merge, sft_rows


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
