"""Benchmarks (`seal bench ...`): speed, memory and reward agreement measured side by side in one run.

`inner_loop`: SEAL's inner loop against ours; `rewards`: how the rewards rank self-edits; `executors`: local against
Ray; `gpu`: the prepared accelerator run of the paper's models (`bench/gpu.sh`).
"""
