"""One reading of what runs measured, for every view (`gltui status`, the TUI, the report):
learning curves (curves.py), the audit estimate with its Wilson interval (estimates.py), a run's
signals and `status --json` (status.py), the most/least confusing galleries (galleries.py) and the
status tables as text (tables.py).

May import: config, errors, store/, learn.stopping (pure numpy). Never torch, never Textual, and
nothing above it: a view reads, it never writes.
"""
