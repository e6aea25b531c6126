#!/usr/bin/env bash
# GPU throughput in one go (under 5 minutes on one H100/H200): DCGAN 64 px at batch 256 in fp32, AMP,
# AMP + channels_last and AMP + compile; the seed workload; the five families in plugins/ (BigGAN and
# StyleGAN2 at 32 px on CIFAR-10-format files, pix2pix, CycleGAN, StarGAN) in fp32 and AMP; two runs
# sharing the machine against each alone. Prints Markdown tables for docs/benchmarks.md. Without a GPU
# it runs a CPU smoke version of the same code.
#
#   bash benchmarks/gpu.sh                          # from the repository root, after make setup
#   bash benchmarks/gpu.sh --data-root ~/data       # real CIFAR-10 (cifar-10-batches-py/) for the families
#   bash benchmarks/gpu.sh --only families,contention
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
"$PYTHON" -c "import gankit" 2>/dev/null || "$PYTHON" -m pip install --quiet -e .
"$PYTHON" - <<'PY'
import torch
print("CUDA:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
PY
exec "$PYTHON" benchmarks/gpu.py "$@"
