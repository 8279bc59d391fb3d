#!/usr/bin/env bash
# The GPU run (issue #27 point 4), sized for the lent device: one call well under its 10-minute command limit.
#
# The device has its own python3 (3.12, torch with CUDA, sentence-transformers, transformers, onnxruntime,
# accelerate) and none of our other dependencies; our venv never travels; at most 64 MiB of working tree go
# there and at most 8 files of 16 MiB come back. So the work is split in three:
#
#   here, before:   .venv/bin/python benchmarks/reranker_training.py --runs listnet:900   # builds and saves the lists
#                   .venv/bin/python benchmarks/gpu_prepare.py      # -> benchmarks/gpu_payload/ (fp16 MiniLM, lists, texts; ~45 MB)
#   on the device:  bash benchmarks/gpu_run.sh --out "$OUT"         # this script, with carry=["benchmarks/gpu_payload"]
#   here, after:    .venv/bin/python benchmarks/gpu_finish.py --back <the files from $OUT>   # validation on the CPU
#
# Steps (each under `timeout`; a step that fails or times out is recorded and the next one runs):
#   gpu        nvidia-smi and torch's view of the device                           -> $OUT/gpu.txt
#   device     benchmarks/gpu_device.py: embedding throughput on 100k texts in fp16 at batch 64/256/1024, then
#              the cross-encoder on every training list for TRAIN_BUDGET s          -> $OUT/gpu_results.json,
#              the model back as reranker.tar.part-NN (<= 15 MiB each)                 $OUT/reranker.tar.part-*
#
# Options: --out DIR (default benchmarks/gpu_run), --texts N, --budget S (reranker training seconds),
#          --device cpu, --batch-sizes a,b, --max-steps N, --payload DIR (the dry run the test suite makes, with tiny sizes). Environment: PYTHON (default python3),
#          DEVICE_TIMEOUT (seconds, default 540: under the device's 600 s a command).
set -euo pipefail

OUT="benchmarks/gpu_run"
TEXTS=100000
TRAIN_BUDGET=300
DEVICE_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --texts) TEXTS="$2"; shift 2 ;;
    --budget) TRAIN_BUDGET="$2"; shift 2 ;;
    --device) DEVICE_ARGS+=(--device "$2"); shift 2 ;;
    --batch-sizes) DEVICE_ARGS+=(--batch-sizes "$2"); shift 2 ;;
    --payload) DEVICE_ARGS+=(--payload "$2"); shift 2 ;;
    --max-steps) DEVICE_ARGS+=(--max-steps "$2"); shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 — see bash $0 --help" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-python3}"
DEVICE_TIMEOUT="${DEVICE_TIMEOUT:-540}"
HERE="$(cd "$(dirname "$0")" && pwd)"
if [[ ! -f "$HERE/gpu_payload/manifest.json" && " ${DEVICE_ARGS[*]} " != *" --payload "* ]]; then
  echo "error: $HERE/gpu_payload/manifest.json not found — run .venv/bin/python benchmarks/gpu_prepare.py here first and carry benchmarks/gpu_payload" >&2
  exit 2
fi

mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
SUMMARY="$OUT/summary.txt"
echo "gpu_run.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), texts: $TEXTS, training budget: ${TRAIN_BUDGET}s" > "$SUMMARY"

# run_step NAME TIMEOUT_S COMMAND...: runs under timeout, logs to $OUT/NAME.log, never stops the script.
run_step() {
  local name="$1" limit="$2"; shift 2
  local start=$SECONDS status
  echo "== $name (timeout ${limit}s): $*"
  set +e
  timeout --kill-after=15 "$limit" "$@" > "$OUT/$name.log" 2>&1
  status=$?
  set -e
  tail -n 40 "$OUT/$name.log"
  local verdict="ok"
  if [[ $status -eq 124 || $status -eq 137 ]]; then verdict="timed out"; elif [[ $status -ne 0 ]]; then verdict="failed"; fi
  echo "$name: $verdict (exit $status) in $((SECONDS - start)) s" | tee -a "$SUMMARY"
}

run_step gpu 60 bash -c "nvidia-smi || echo 'nvidia-smi: not available'; $PYTHON -c \"import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')\""
mv "$OUT/gpu.log" "$OUT/gpu.txt"
run_step device "$DEVICE_TIMEOUT" "$PYTHON" "$HERE/gpu_device.py" --out "$OUT" --texts "$TEXTS" --budget "$TRAIN_BUDGET" "${DEVICE_ARGS[@]}"

echo
cat "$SUMMARY"
echo "outputs in $OUT/ — bring them back and run benchmarks/gpu_finish.py --back <folder>"
