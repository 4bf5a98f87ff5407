"""Labels only, through the semi-supervised loop: the baseline every method is measured against
(same net, same schedule, same labeled batches; no unlabeled forward at all)."""

from __future__ import annotations

from gltui.learn.semi.base import Algorithm


class Supervised(Algorithm):
    name = "supervised"
    student_view = "none"

    def unsup_loss(self, logits_s, probs_w, idx, step):  # never called: the loop skips the pool
        raise RuntimeError("the supervised baseline has no unsupervised loss")
