#!/usr/bin/env bash
# Start (or resume) SynthBirds 64 px runs in the background on a CPU machine, one thread per run (on 2 cores,
# several 1-thread runs get more images/s in all than one 2-thread run). A bare machine goes on with this one
# command: it renders SynthBirds where it is missing, and a run folder that does not exist yet starts from the
# config's committed snapshot (`init`). Runs and logs live outside the checkout, which may be laid anew:
#   bash train/cpu_runs.sh caegan_ms_ngf32 ffgan_damsm_ngf32 ecagan_ngf32
#   T2I_RUNS=~/t2i-runs (run folders, logs in $T2I_RUNS/logs)   T2I_DATA=~/t2i-data/synthbirds-64
#   T2I_THREADS=1 (threads per run; 2 when one run is left alone on the 2 cores: 1.65-1.87x one thread)
# Run it from a copy of the code (`git archive HEAD t2i train checkpoints | tar -x -C ~/t2i-code`) so that
# editing the checkout does not change what the runs import.
# Stop with: pkill -f "t2i train gan"  (SIGTERM: each run writes a checkpoint at its current step; rerunning resumes)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${T2I_RUNS:-$HOME/t2i-runs}"
data="${T2I_DATA:-$HOME/t2i-data/synthbirds-64}"
threads="${T2I_THREADS:-1}"
mkdir -p "$runs/logs"
if [ ! -f "$data/synthbirds.json" ]; then
  echo "rendering SynthBirds into $data (about a minute on 2 cores)"
  python -m t2i data synthbirds --out "$data" > "$runs/logs/synthbirds-render.log" 2>&1
fi
for name in "$@"; do
  cfg="train/${name}_synthbirds64.toml"
  [ -f "$cfg" ] || { echo "no config $cfg" >&2; exit 2; }
  run="$(echo "$name" | tr _ -)-synthbirds-64"
  out="$runs/$run" log="$runs/logs/$run.log"
  if pgrep -f -- "--out $out( |$)" > /dev/null; then echo "$name is already training ($out)"; continue; fi
  OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" nohup python -m t2i train gan --config "$cfg" --out "$out" \
    --set train.keep_evals=true --set "train.data=$data" >> "$log" 2>&1 &
  echo "started $name (pid $!, $threads thread(s)) -> $out, log $log"
done
