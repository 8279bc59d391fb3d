#!/usr/bin/env bash
# The GPU run of issue #13 part 5, as one prepared script: run it from the repository root on a GPU machine.
#
#   bash benchmarks/gpu_run.sh                      # 100k and 1M items, reranker on all the data, SASRec
#   bash benchmarks/gpu_run.sh --items 2000 --out /tmp/gpu-check   # a quick check that the steps start (any machine)
#
# Steps (each under `timeout`; a step that fails or times out is recorded and the next one runs):
#   gpu        nvidia-smi and torch's view of the device                      -> $OUT/gpu.txt
#   embed      benchmarks/embedding_and_index.py --embed/--index the sizes,   -> $OUT/embedding_and_index_gpu.json
#              batch 256 (fp16 on CUDA is chosen by ItemEmbedder itself; the target is >= 10k items/s)
#   reranker   whyrec train-reranker on all MovieLens-100K users              -> $OUT/train_reranker.log
#              (into a data dir of its own, $OUT/data, ingested first; the trained model stays there)
#   sasrec     benchmarks/sasrec_recbole.py to convergence (early stopping)   -> $OUT/sasrec_recbole_gpu.json
#              NOTE: that script pins RecBole to device "cpu" today, so this step trains on the CPU
#              cores of the GPU machine until the script grows a --device flag.
# Every step's output also goes to $OUT/<step>.log; $OUT/summary.txt lists each step's exit status and seconds.
#
# Options: --items N (one size instead of 100000 1000000), --steps a,b,c (default gpu,embed,reranker,sasrec),
#          --out DIR (default benchmarks/gpu_run). Environment: PYTHON, WHYREC (default .venv/bin/...),
#          EMBED_TIMEOUT, RERANKER_TIMEOUT, SASREC_TIMEOUT (seconds), SASREC_BUDGET_MINUTES.
set -euo pipefail

SIZES="100000 1000000"
STEPS="gpu,embed,reranker,sasrec"
OUT="benchmarks/gpu_run"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --items) SIZES="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 — see bash $0 --help" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-.venv/bin/python}"
WHYREC="${WHYREC:-.venv/bin/whyrec}"
EMBED_TIMEOUT="${EMBED_TIMEOUT:-3600}"
RERANKER_TIMEOUT="${RERANKER_TIMEOUT:-5400}"
SASREC_TIMEOUT="${SASREC_TIMEOUT:-4200}"
SASREC_BUDGET_MINUTES="${SASREC_BUDGET_MINUTES:-60}"

if [[ ! -f benchmarks/embedding_and_index.py ]]; then
  echo "error: run this from the whyrec repository root (benchmarks/embedding_and_index.py not found)" >&2
  exit 2
fi
if [[ ! -x "$PYTHON" ]]; then
  echo "error: $PYTHON not found — create the venv (see README) or set PYTHON=/path/to/python" >&2
  exit 2
fi

mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False TOKENIZERS_PARALLELISM=false
export WHYREC_DATA_DIR="${WHYREC_DATA_DIR:-$OUT/data}"
SUMMARY="$OUT/summary.txt"
echo "gpu_run.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), sizes: $SIZES, steps: $STEPS" > "$SUMMARY"

wanted() { [[ ",$STEPS," == *",$1,"* ]]; }

# run_step NAME TIMEOUT_S COMMAND...: runs under timeout, logs to $OUT/NAME.log, never stops the script.
run_step() {
  local name="$1" limit="$2"; shift 2
  local start=$SECONDS status
  echo "== $name (timeout ${limit}s): $*"
  set +e
  timeout --kill-after=30 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
  status=${PIPESTATUS[0]}
  set -e
  local verdict="ok"
  if [[ $status -eq 124 || $status -eq 137 ]]; then verdict="timed out"; elif [[ $status -ne 0 ]]; then verdict="failed"; fi
  echo "$name: $verdict (exit $status) in $((SECONDS - start)) s" | tee -a "$SUMMARY"
}

if wanted gpu; then
  run_step gpu 120 bash -c "nvidia-smi || echo 'nvidia-smi: not available'; $PYTHON -c \"import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')\""
  cp "$OUT/gpu.log" "$OUT/gpu.txt"
fi
if wanted embed; then
  # shellcheck disable=SC2086  # SIZES is a list of numbers on purpose
  run_step embed "$EMBED_TIMEOUT" "$PYTHON" benchmarks/embedding_and_index.py --embed $SIZES --index $SIZES --batch-size 256 \
    --output "$OUT/embedding_and_index_gpu.json"
fi
if wanted reranker; then
  run_step reranker "$RERANKER_TIMEOUT" "$WHYREC" train-reranker
  cp "$OUT/reranker.log" "$OUT/train_reranker.log"
fi
if wanted sasrec && ! "$PYTHON" -c "import recbole, colorlog, colorama, tabulate, texttable, tensorboard" 2>/dev/null; then
  echo "sasrec: skipped — recbole or its extras are missing: pip install --no-deps recbole==1.2.1 && pip install -e '.[sasrec]'" | tee -a "$SUMMARY"
elif wanted sasrec; then
  run_step sasrec "$SASREC_TIMEOUT" "$PYTHON" benchmarks/sasrec_recbole.py --budget-minutes "$SASREC_BUDGET_MINUTES" \
    --max-epochs 300 --patience 10 --threads "$(nproc)" --out "$OUT/sasrec_recbole_gpu.json"
fi

echo
cat "$SUMMARY"
echo "outputs in $OUT/ — record the numbers and the GPU's name in benchmarks/README.md"
