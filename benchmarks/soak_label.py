"""The soak's person: the TUI itself, driven headless by Textual's Pilot.

    python benchmarks/soak_label.py PROJECT RUN SEED

Opens the app on RUN as `gltui PROJECT --run RUN` does (the run's lock held for the session: a run
being driven elsewhere is one line and exit 2), then presses, for 1-8 of the pending images on
the labeling screen, the key of the image's true class (the sample's labels, as a person who
knows them would), one image after another as the screen offers them. After each key it prints
`ack ITEM LABEL`, once the screen shows the label as given (the key's transaction committed). A
key whose label could not be written is the screen's one line ("The label was not saved: ..."),
printed to stderr, and exit 2. Nothing pending (the run trains, or has ended): exit 0.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


async def label(session, rng: random.Random) -> int:
    import numpy as np

    from gltui.tui.app import make_app

    app = make_app(session=session, images="none", show_timing=False, autostart=False,
                   autostart_delay=None)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        if screen.id != "labeling":
            return 0
        for _ in range(rng.randint(1, 8)):
            item = screen.shown_item
            entry = next((e for e in screen.entries if e.item == item), None)
            if item is None or entry is None or entry.status != "pending":
                break
            truth = int(session.project.store.true_labels(np.asarray([item]))[0])
            key = session.class_key(truth)
            if key is None or key > 9:
                break
            await pilot.press(str(key))
            if entry.status != "labeled":
                failed = [n.message for n in app._notifications if n.severity == "error"]
                print((failed or ["the label key did nothing"])[-1], file=sys.stderr)
                return 2
            print(f"ack {item} {truth}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    path, run, seed = argv if argv is not None else sys.argv[1:]
    from gltui.errors import GltuiError
    from gltui.project import run_lock
    from gltui.tui.session import Session

    try:
        session = Session(path, run)
    except GltuiError as err:
        print(f"gltui: {err}", file=sys.stderr)
        return 2
    try:
        with run_lock(session.project, run):
            return asyncio.run(label(session, random.Random(int(seed))))
    except GltuiError as err:  # the run is driven by another process, a write failed to open
        print(f"gltui: {err}", file=sys.stderr)
        return 2
    finally:
        session.close()


if __name__ == "__main__":
    raise SystemExit(main())
