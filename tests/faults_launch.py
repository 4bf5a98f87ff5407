"""`python tests/faults_launch.py ARGS...` is `gltui ARGS...` with the fault named by GLTUI_FAULT
armed (tests/faults.py); torchrun takes it as its script. A malformed GLTUI_FAULT is one line on
stderr and exit 2, before gltui is imported."""

import sys

import faults  # tests/ is this script's folder, so it is first on sys.path

try:
    faults.install_from_env()
except faults.FaultSpecError as err:
    print(f"gltui: {err}", file=sys.stderr)
    raise SystemExit(2)

from gltui.cli import main  # noqa: E402

raise SystemExit(main(sys.argv[1:]))
