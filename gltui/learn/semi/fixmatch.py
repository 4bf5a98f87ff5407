"""FixMatch (Sohn et al. 2020): the teacher's weak-view prediction, where its confidence reaches
the threshold tau, is the hard label the student must give the strong view."""

from __future__ import annotations

from gltui.learn.semi.base import Algorithm


class FixMatch(Algorithm):
    name = "fixmatch"
    student_view = "strong"

    def unsup_loss(self, logits_s, probs_w, idx, step):
        probs = self.align(probs_w)
        mask = (probs.max(1).values >= self.cfg.threshold).float()
        return (self.targets_loss(logits_s, probs) * mask).mean(), mask
