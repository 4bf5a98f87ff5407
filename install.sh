#!/usr/bin/env bash
# Set-up step 1 of 2: a virtual environment with torch's CPU build, then gltui itself.
#
#   ./install.sh [--test]                  CPU torch (torch==2.13.0+cpu), then gltui
#   GLTUI_TORCH=cuda ./install.sh [--test] the CUDA build instead (PyPI's plain torch==2.13.0,
#                                          a CUDA build on Linux x86_64; several GB)
#   GLTUI_TORCH_VERSION=X.Y.Z              another torch version, either build
#
# The CPU build is asked for by name (the `+cpu` local version), so a machine with a GPU gets
# the same build as CI and the suite's exact comparisons hold there too. pip takes `+cpu` from
# wherever it is offered: a local wheel (pip's find-links, as on the project's build machines),
# an index already configured, or else PyTorch's CPU index, added only when the first try finds
# nothing. A torch already in .venv is kept (install the one you want there first).
# Then: . .venv/bin/activate
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
version="${GLTUI_TORCH_VERSION:-2.13.0}"
cpu_index="https://download.pytorch.org/whl/cpu"
if python -c "import torch" 2>/dev/null; then
  echo "keeping the torch in .venv: $(python -c 'import torch; print(torch.__version__)')"
elif [ "${GLTUI_TORCH:-cpu}" = "cuda" ]; then
  python -m pip install -q "torch==${version}"
else
  # torch first: otherwise pip resolves `torch` (a dependency of gltui) to a CUDA build.
  python -m pip install -q "torch==${version}+cpu" 2>/dev/null \
    || python -m pip install -q --extra-index-url "$cpu_index" "torch==${version}+cpu"
  python -c "import torch, sys; sys.exit(torch.version.cuda is not None)" 2>/dev/null \
    || { echo "install.sh: the torch installed is not a CPU build" >&2; exit 1; }
fi
if [ "${1:-}" = "--test" ]; then
  # The test run uses the pinned set in constraints.txt (README: Tests, on moving the pins).
  python -m pip install -q -c constraints.txt -e ".[test]"
else
  python -m pip install -q -e .
fi
echo "gltui installed in .venv — activate it with: . .venv/bin/activate"
