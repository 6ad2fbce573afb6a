"""The M-step: supervised fine-tuning of the self-edit writer on (self-edit prompt -> kept self-edit) pairs.

TRL's `SFTTrainer` with a LoRA (paper: r 64 on all projections, lr 3e-4, 2 epochs, effective batch 10), loss on the
self-edit only (the prompt is masked), on rows tokenized here (`sft_rows`) exactly as sampling fed the prompt; then
the adapter is merged into a full checkpoint written with
`save_pretrained`, so the next round, `seal.models.load` and any other tool read it as a normal model directory.
The directory appears only when complete (written under a temporary name, then renamed), so a killed M-step is
simply redone on resume; it holds the M-step's log (`m_step.json`: steps, losses, pairs) next to the weights.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from seal.config import SftConfig
from seal.inner.lora import peft_config
from seal.models.tokens import encode

M_STEP_LOG = "m_step.json"


def sft_rows(tokenizer, pairs: list[tuple[str, str]]) -> list[dict]:
    """Pre-tokenized SFT rows, one per (prompt, completion) pair: `input_ids` = the prompt as `encode` gives it to
    sampling (one BOS, also when a chat template renders one), the completion's tokens, then EOS (when the tokenizer
    has one); `completion_mask` 1 on the completion and EOS, 0 on the prompt (TRL's pre-tokenized dataset format).

    Why not prompt/completion strings: TRL tokenizes those with the tokenizer's special tokens, so a template that
    starts with `{{ bos_token }}` and a BOS-adding tokenizer give rows with two BOS tokens (sampling feeds one)."""
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    rows = []
    for prompt, completion in pairs:
        p = encode(tokenizer, prompt)
        c = list(tokenizer(completion, add_special_tokens=False)["input_ids"]) + eos
        rows.append({"input_ids": p + c, "completion_mask": [0] * len(p) + [1] * len(c)})
    return rows


def sft_and_merge(model, tokenizer, pairs: list[tuple[str, str]], cfg: SftConfig, out_dir: Path, seed: int) -> dict:
    """Fine-tune `model` on `pairs`, merge the LoRA, and save model, tokenizer and log (`M_STEP_LOG`) to `out_dir`.
    Returns the log."""
    import datasets
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    out_dir = Path(out_dir)
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    dataset = datasets.Dataset.from_list(sft_rows(tokenizer, pairs))
    cpu = next(model.parameters()).device.type == "cpu"
    padding_side = tokenizer.padding_side
    with tempfile.TemporaryDirectory(prefix="seal-sft-") as tmp:
        args = SFTConfig(
            output_dir=tmp, per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
            learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs, max_length=cfg.max_length,
            completion_only_loss=True, logging_steps=1, save_strategy="no", report_to=[], seed=seed,
            use_cpu=cpu, bf16=not cpu, disable_tqdm=True,
        )
        tokenizer.padding_side = "right"
        trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                             peft_config=peft_config(cfg.lora))
        trainer.remove_callback(PrinterCallback)  # losses go to the store, not to stdout
        result = trainer.train()
        tokenizer.padding_side = padding_side
        merged = trainer.model.merge_and_unload()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    log = {"steps": result.global_step, "train_loss": result.training_loss, "losses": losses, "pairs": len(pairs)}
    merged.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    save_log(partial, log)
    partial.rename(out_dir)
    return log


def save_log(checkpoint: Path, log: dict) -> None:
    """Write the M-step's log into its (partial) checkpoint directory, so the log exists exactly when the checkpoint
    does: a run killed after the M-step (while the checkpoint is evaluated) still has it on resume."""
    (Path(checkpoint) / M_STEP_LOG).write_text(json.dumps(log))
