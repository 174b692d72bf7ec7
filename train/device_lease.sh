#!/usr/bin/env bash
# One prepared GPU lease (train/README "A GPU lease"): checks the CUDA paths once (a slice of the test suite, AMP, one
# CUB-256 config step), then trains the issue-25 runs side by side on the one GPU until TRAIN_S seconds have passed,
# and writes warm-start snapshots, logs and best model folders to $OUT (at most 8 files of <= 16 MiB: what the lease
# hands back). Here, before the call (train/README "A GPU lease"): warm starts `python -m t2i train snapshot RUN --out
# .gpu/NAME`; wheels in .gpu/whl (the lease machine has torch but not nltk, nor the EfficientNet-Lite0 perceptual net
# ECAGAN needs); checkpoints other than damsm/judge/attr-classifier and train/snapshots moved aside so that the tree
# and .gpu fit the 64 MiB a call carries; the call carries .gpu. ONLY="name ..." trains a subset of RUNS.
#   SMOKE=1 OUT=/tmp/out bash train/device_lease.sh   # the same script on this CPU machine, a few steps per run
set -u
T0=$(date +%s)
OUT=${OUT:?set OUT}
SMOKE=${SMOKE:-0}
TRAIN_S=${TRAIN_S:-430}  # seconds of training after the data is rendered
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
elapsed() { echo $(( $(date +%s) - T0 )); }
mkdir -p "$OUT" runs/lease checks
if ls .gpu/whl/*.whl >/dev/null 2>&1 && ! $PY -c "import nltk" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; $PY -c "import torch; print(torch.__version__, torch.cuda.is_available())"; nproc; } > checks/machine.txt 2>&1
cat checks/machine.txt

N=11788; [ "$SMOKE" = 1 ] && N=400
W=$(nproc)
if [ ! -f data/synthbirds-64/synthbirds.json ]; then
  $PY -m t2i data synthbirds --out data/synthbirds-64 --size 64 --n $N --seed 0 --workers $W > checks/data.log 2>&1 \
    || { echo "SynthBirds render failed"; tail -5 checks/data.log; }
fi
$PY -m t2i data synthbirds --out data/synthbirds-256 --size 256 --n 120 --seed 0 --workers $W > checks/data256.log 2>&1 &
echo "data rendered at $(elapsed) s"

# name config init ("" = from scratch)
RUNS="caegan-ms-ngf32 caegan_ms_ngf32_synthbirds64 .gpu/caegan-ms-ngf32
ecagan-ngf32 ecagan_ngf32_synthbirds64 .gpu/ecagan-ngf32
ffgan-damsm-ngf32 ffgan_damsm_ngf32_synthbirds64 .gpu/ffgan-damsm-ngf32"
ONLY=${ONLY:-}  # names of the runs to train (default: all)
[ -n "$ONLY" ] && RUNS=$(grep -E "^($(echo $ONLY | tr ' ' '|')) " <<< "$RUNS")
EVERY=1000; [ "$SMOKE" = 1 ] && EVERY=4
declare -A PID TRIES
start() {  # start NAME CONFIG INIT [extra --set ...]
  local name=$1 cfg=$2 init=$3; shift 3
  local initset=(--set "train.init="); [ "$init" != - ] && [ -d "$init" ] && initset=(--set "train.init=$init")
  OMP_NUM_THREADS=3 $PY -m t2i train gan --config train/$cfg.toml --out runs/lease/$name "${initset[@]}" \
    --set train.data=data/synthbirds-64 --set train.eval_every=$EVERY --set train.save_every=$EVERY \
    --set train.sample_every=$EVERY --set train.keep_evals=false "$@" >> runs/lease/$name.log 2>&1 &
  PID[$name]=$!
}
while read -r name cfg init; do TRIES[$name]=0; start "$name" "$cfg" "$init"; done <<< "$RUNS"

# the CUDA paths beside the training: a slice of the suite, then one step of the CUB-256 recipe (AMP on CUDA)
( timeout 200 $PY -m pytest -q -x -p no:cacheprovider tests/test_trainer.py tests/test_multistage.py \
    tests/test_onestage.py tests/test_layers.py tests/test_checkpoint.py > checks/pytest.log 2>&1
  echo "pytest exit $?" >> checks/pytest.log
  wait
  timeout 120 $PY -m t2i train gan --config train/csagan_cub256.toml --out runs/cub256-check \
    --set train.data=data/synthbirds-256 --set train.damsm=checkpoints/damsm-synthbirds-64 --set train.steps=3 \
    --set train.batch_size=8 --set train.workers=0 --set train.save_every=3 --set train.sample_every=3 \
    --set train.dataset_name=synthbirds > checks/cub256_step.log 2>&1
  echo "cub256 step exit $?" >> checks/cub256_step.log ) &
CHECKS=$!

END=$(( $(elapsed) + TRAIN_S )); [ "$SMOKE" = 1 ] && END=$(( $(elapsed) + 60 ))
while [ "$(elapsed)" -lt "$END" ]; do
  sleep 5
  while read -r name cfg init; do
    if [ "${TRIES[$name]}" -le 2 ] && ! kill -0 "${PID[$name]}" 2>/dev/null; then
      TRIES[$name]=$(( TRIES[$name] + 1 ))
      echo "$name stopped at $(elapsed) s (try ${TRIES[$name]}): $(tail -c 300 runs/lease/$name.log | tr '\r' '\n' | tail -2)"
      # again without bf16 autocast, then also without quick evals (each resumes from its own state if it saved one)
      [ "$SMOKE" != 1 ] && [ "${TRIES[$name]}" -eq 1 ] && start "$name" "$cfg" "$init" --set train.amp=false
      [ "$SMOKE" != 1 ] && [ "${TRIES[$name]}" -eq 2 ] && start "$name" "$cfg" "$init" --set train.amp=false \
        --set train.eval_every=0
    fi
  done <<< "$RUNS"
done
for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null; done
for _ in $(seq 60); do  # a run in the middle of a quick eval saves after it; a minute at most
  alive=0; for p in "${PID[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 1
done
for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null; done
pkill -TERM -P $CHECKS 2>/dev/null; kill -TERM $CHECKS 2>/dev/null
echo "training stopped at $(elapsed) s"

for d in runs/lease/*/; do
  name=$(basename "$d")
  [ -f "$d/train_state.pt" ] && $PY -m t2i train snapshot "$d" --out "runs/snap/$name" > /dev/null \
    && cp "runs/snap/$name/snapshot.safetensors" "$OUT/$name.safetensors"
  last=$(ls "$d"/samples/*.png 2>/dev/null | tail -1)
  tar -czf "$OUT/$name.tgz" -C runs/lease "$name.log" "$name/log.jsonl" "$name/config.json" \
    ${last:+"$name/samples/$(basename "$last")"} $( [ -d "$d/best" ] && echo "$name/best" ) 2>/dev/null
done
tar -czf "$OUT/checks.tgz" checks
ls -la "$OUT"
echo "done at $(elapsed) s"
