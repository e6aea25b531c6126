#!/usr/bin/env bash
# The CUDA checks, in one short run on a GPU machine (under 3 minutes on an H100/H200):
#   bash benchmarks/gpu_check.sh
# It installs gankit without dependencies into a private folder (the machine's own torch is used),
# prints the GPU, and runs the CUDA tests plus the AMP/penalty tests that also run on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
site=$(mktemp -d)
python3 -m pip install --quiet --no-deps --no-build-isolation --target "$site" . >/dev/null
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
python3 -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name(0))"
python3 -m pytest -q -p no:cacheprovider tests/engine/test_cuda.py tests/engine/test_amp.py "$@"
