"""gltui: guided labeling (active learning by response-distribution entropy) in the terminal."""

__version__ = "0.1.0"
