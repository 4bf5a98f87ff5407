"""gltui: guided labeling (active learning by response-distribution entropy) in the terminal.

`import gltui` stays light (no torch); `gltui.load_model` imports torch when called.
"""

from gltui.config import VERSION as __version__

__all__ = ["__version__", "load_model"]


def load_model(path, device: str = "cpu"):
    """Rebuild a model that `gltui export PROJECT --format model --out DIR` wrote.

    Returns a `gltui.outputs.modelfolder.LoadedModel`: `.model` (the torch network in eval mode,
    weights loaded with torch.load(weights_only=True)), `.meta` (model.json: classes, input shape,
    preprocessing, network, gltui version, run, round), `.classes`, and
    `.predict(images) -> (class index, probability)` / `.predict_proba(images)` for uint8
    N x C x H x W images in the input shape (scaled by 1/255 inside, as in training)::

        m = gltui.load_model("model-dir")
        classes, probs = m.predict(images)
        names = [m.classes[c] for c in classes]
    """
    from gltui.outputs.modelfolder import load_model as _load

    return _load(path, device)
