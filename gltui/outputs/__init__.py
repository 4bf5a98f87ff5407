"""What a project produces: the round model (roundmodel.py: saved, loaded, run, exported as a
folder that `gltui.load_model` rebuilds), predictions for every unlabeled image (predict.py),
exports of the labels (export.py) and the report (report.py, report_estimates.py).

May import: project/, learn/ (predict and the round model only), views/, and everything below
them; never run/ (the engine imports the round model from here), never Textual. The exports
and the report read a project without torch; only roundmodel and predict import it.
"""
