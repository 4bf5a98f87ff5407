"""The terminal UI: a Textual client of the engine.

No learning code and no SQL here: the UI reads the project through `gltui.project` and the store's
query methods, commits labels through `project.Labeler`, and drives the run through
`engine.Runner` in one thread worker whose progress comes back as typed messages (messages.py).
Importing this package does not import torch; `app.run_app` takes the run lock from
gltui.project (torch-free)
only once it is about to start the app.
"""
