"""Benchmarks (`seal bench ...`): speed, memory and reward agreement measured side by side in one run.

`inner_loop`: SEAL's inner loop against ours; `rewards`: how the rewards rank self-edits; `executors`: local against
Ray; `gpu`: the prepared accelerator run of the paper's models (`bench/gpu.sh`); `learn`: `seal learn` against a
LoRA on the raw files and the notes in context on a gold quiz, with each setting's cost; `engines`: HF generate
against vLLM (answer parity, self-edit lengths, tokens/s, seconds per inner loop).
"""
