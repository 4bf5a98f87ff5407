"""A run: its resumable state machine (engine.py), the one driver every caller goes through
(driver.py), the engine's progress events (events.py), the distributed glue (ranks.py), and the
two callers that drive many runs: `gltui experiment` (experiment.py) and the bundled sample
demo (sample.py).

Owns: moving a run through label -> train -> evaluate -> score -> query. May import: project/,
learn/, outputs/ (the round model; the report, for experiment), views/, and everything below
them. Never Textual; torch only inside engine.py and ranks.py, which the driver imports when it
drives (importing this package, events or the driver stays torch-free).
"""
