#!/usr/bin/env bash
# Set-up step 1 of 2: a virtual environment with a CPU torch (or whatever torch is already
# wanted), then gltui itself. Usage: ./install.sh [--test]   (then: . .venv/bin/activate)
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# torch first: otherwise pip resolves `torch` to the newest multi-GB CUDA build.
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==${GLTUI_TORCH_VERSION:-2.13.0}"
if [ "${1:-}" = "--test" ]; then
  # The test run uses the pinned set in constraints.txt (README: Tests, on moving the pins).
  python -m pip install -q -c constraints.txt -e ".[test]"
else
  python -m pip install -q -e .
fi
echo "gltui installed in .venv — activate it with: . .venv/bin/activate"
