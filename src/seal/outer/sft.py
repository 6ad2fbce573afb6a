"""The M-step: supervised fine-tuning of the self-edit writer on (self-edit prompt -> kept self-edit) pairs.

TRL's `SFTTrainer` with a LoRA (paper: r 64 on all projections, lr 3e-4, 2 epochs, effective batch 10), loss on the
self-edit only (the prompt is masked), on rows tokenized here (`sft_rows`) exactly as sampling fed the prompt; then
the adapter is merged into a full checkpoint written with
`save_pretrained`, so the next round, `seal.models.load` and any other tool read it as a normal model directory.
The directory appears only when complete (written under a temporary name, then renamed), so a killed M-step is
simply redone on resume; it holds the M-step's log (`m_step.json`: steps, losses, pairs) next to the weights.

Rows longer than `outer.sft.max_length` are left out before TRL sees them (`fitting_rows`) and counted in the log
(`pairs` given, `pairs_trained`, `pairs_left_out`): TRL would cut them at `max_length`, training a self-edit without
its end (EOS cut) or, when the cut falls inside the prompt, dropping the row on its own (TRL 1.16,
huggingface/trl#6320) while the log still counted it. When no row fits, nothing is trained: the checkpoint is the
unchanged model, as when no self-edit had a positive reward (`save_unchanged`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from seal.config import SftConfig
from seal.inner.lora import peft_config
from seal.jsonfile import write_json
from seal.models.context import within_context
from seal.models.tokens import encode
from seal.progress import console

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
        c = list(tokenizer(completion, add_special_tokens=False, split_special_tokens=True)["input_ids"]) + eos
        rows.append({"input_ids": p + c, "completion_mask": [0] * len(p) + [1] * len(c)})
    return rows


def fitting_rows(rows: list[dict], max_length: int) -> tuple[list[dict], list[int]]:
    """The rows of at most `max_length` tokens, and the lengths of the others (in order).

    A longer row is left out whole rather than cut: a cut inside the completion trains a self-edit that never ends
    (its EOS gone), a cut inside the prompt leaves nothing in the loss.

    >>> fitting_rows([{"input_ids": [1, 2, 3]}, {"input_ids": [1] * 9}], 4)
    ([{'input_ids': [1, 2, 3]}], [9])
    """
    return ([r for r in rows if len(r["input_ids"]) <= max_length],
            [len(r["input_ids"]) for r in rows if len(r["input_ids"]) > max_length])


def prompt_room(tokenizer, prompts: dict[str, str], max_length: int, max_new_tokens: int
                ) -> tuple[dict[str, int], dict[str, int]]:
    """Which self-edit prompts the M-step can train after, by context id: those with no room left in `max_length`
    for a self-edit (the prompt's tokens, as `sft_rows` encodes them, plus one self-edit token and EOS, over
    `max_length`), and those whose room is under `max_new_tokens` + EOS (a long self-edit would be left out of the
    M-step). Both as {context id: prompt tokens}."""
    lengths = {cid: len(encode(tokenizer, p)) for cid, p in prompts.items()}
    no_room = {cid: n for cid, n in lengths.items() if n + 2 > max_length}
    tight = {cid: n for cid, n in lengths.items() if cid not in no_room and n + max_new_tokens + 1 > max_length}
    return no_room, tight


def sft_and_merge(model, tokenizer, pairs: list[tuple[str, str]], cfg: SftConfig, out_dir: Path, seed: int) -> dict:
    """Fine-tune `model` on `pairs`, merge the LoRA, and save model, tokenizer and log (`M_STEP_LOG`) to `out_dir`.
    Returns the log: `steps`, `train_loss`, `losses`, and the counts `pairs` (given), `pairs_trained`,
    `pairs_left_out` (rows longer than `max_length`: `cfg.max_length` capped to the model's context; their lengths
    in `left_out_lengths`). When no row fits, `model` is saved unchanged and the log says `skipped` (no `steps`)."""
    import datasets
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    out_dir = Path(out_dir)
    max_length = within_context(model, cfg.max_length)  # never past the model's context (seal.models.context)
    limit = f"outer.sft.max_length={cfg.max_length}" + (
        f" (capped to the model's context, {max_length})" if max_length < cfg.max_length else "")
    rows, left_out = fitting_rows(sft_rows(tokenizer, pairs), max_length)
    counts = {"pairs": len(pairs), "pairs_trained": len(rows), "pairs_left_out": len(left_out),
              "max_length": max_length, "left_out_lengths": left_out}
    if left_out:
        console.log(f"M-step: {len(left_out)} of {len(pairs)} kept self-edits left out: prompt + self-edit + EOS "
                    f"longer than {limit} (longest {max(left_out)} tokens)")
    if not rows:
        log = {"skipped": f"no kept self-edit fits {limit}"} | counts
        save_unchanged(model, tokenizer, out_dir, log)
        return log
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    dataset = datasets.Dataset.from_list(rows)
    cpu = next(model.parameters()).device.type == "cpu"
    padding_side = tokenizer.padding_side
    with tempfile.TemporaryDirectory(prefix="seal-sft-") as tmp:
        args = SFTConfig(
            output_dir=tmp, per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
            learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs, max_length=max_length,
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
    log = {"steps": result.global_step, "train_loss": result.training_loss, "losses": losses} | counts
    merged.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    save_log(partial, log)
    partial.rename(out_dir)
    return log


def save_unchanged(model, tokenizer, out_dir: Path, log: dict) -> None:
    """An M-step that trains nothing: `model` and `tokenizer` saved as they are, with `log`, to `out_dir` (written
    under a temporary name, then renamed), so the next round starts from the same weights."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    save_log(partial, log)
    partial.rename(out_dir)


def save_log(checkpoint: Path, log: dict) -> None:
    """Write the M-step's log into its (partial) checkpoint directory, so the log exists exactly when the checkpoint
    does: a run killed after the M-step (while the checkpoint is evaluated) still has it on resume."""
    write_json(Path(checkpoint) / M_STEP_LOG, log)  # strict JSON: a diverged loss is null
