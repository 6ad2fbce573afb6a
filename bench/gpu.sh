#!/usr/bin/env bash
# The prepared accelerator run: the paper's models (random weights, bf16) timed in one command, about 6-8 minutes on
# one H100/H200. Needs only python3 with PyTorch, transformers and PEFT; installs nothing.
#
#   bench/gpu.sh OUT_DIR [DATA_DIR] [extra options of python -m seal.bench.gpu ...]
#
# DATA_DIR (default: ../shared/data beside the checkout) holds SEAL's self-edits and ARC tasks, found as
# DATA_DIR/gpt4_1_val.json or DATA_DIR/seal-self-edits/gpt4_1_val.json, and likewise
# arc-agi_training_challenges_filtered_1B_training_set.json (or under arc/). A machine that gets only the checkout
# needs them copied into an ignored folder that travels with it, e.g.
#   mkdir -p .bench-data && cp ../shared/data/seal-self-edits/gpt4_1_val.json \
#       ../shared/data/arc/arc-agi_training_challenges_filtered_1B_training_set.json .bench-data/
#   echo /.bench-data/ >> .git/info/exclude        # then: bench/gpu.sh "$OUT" .bench-data
# Writes OUT_DIR/knowledge.json, arc.json, table.txt and log.txt; run directories go to OUT_DIR/../seal-gpu-runs.
set -euo pipefail
out=${1:?usage: bench/gpu.sh OUT_DIR [DATA_DIR] [options]}
root=$(cd "$(dirname "$0")/.." && pwd)
data=${2:-$root/../shared/data}
shift $(( $# >= 2 ? 2 : 1 ))
find_file() {  # first of DATA_DIR/NAME, DATA_DIR/SUBDIR/NAME
  for f in "$data/$1" "$data/$2/$1"; do [ -f "$f" ] && { echo "$f"; return; }; done
  echo "error: $1 not found in $data or $data/$2" >&2; exit 2
}
edits=$(find_file gpt4_1_val.json seal-self-edits)
arc=$(find_file arc-agi_training_challenges_filtered_1B_training_set.json arc)
mkdir -p "$out"
export HF_HUB_OFFLINE=1 PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 SEAL_CACHE="${SEAL_CACHE:-$out/../seal-cache}"
${PYTHON:-python3} -m seal.bench.gpu --out "$out" --self-edits "$edits" --arc-tasks "$arc" "$@" \
  2>&1 | tee "$out/log.txt"
