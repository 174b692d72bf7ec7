#!/usr/bin/env bash
# Start (or resume) SynthBirds 64 px runs in the background on a CPU machine, one thread per run (on 2 cores,
# several 1-thread runs get more images/s in all than one 2-thread run). Logs: logs/<run>.log; runs/<run>/.
#   bash train/cpu_runs.sh dfgan swfgan csagan
# Stop with: pkill -f "t2i train gan"  (SIGTERM: each run writes a checkpoint at its current step; rerunning resumes)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p logs
for name in "$@"; do
  cfg="train/${name}_synthbirds64.toml"
  [ -f "$cfg" ] || { echo "no config $cfg" >&2; exit 2; }
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nohup python -m t2i train gan --config "$cfg" \
    > "logs/${name}-synthbirds-64.log" 2>&1 &
  echo "started $name (pid $!) -> logs/${name}-synthbirds-64.log"
done
