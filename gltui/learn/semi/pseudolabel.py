"""Pseudo-Label (Lee 2013): confident teacher predictions become hard labels, learnt on a second
weak draw of the same images (no strong augmentation): the baseline the consistency methods beat."""

from __future__ import annotations

from gltui.learn.semi.base import Algorithm


class PseudoLabel(Algorithm):
    name = "pseudolabel"
    student_view = "weak"

    def unsup_loss(self, logits_s, probs_w, idx, step):
        probs = self.align(probs_w)
        mask = (probs.max(1).values >= self.cfg.threshold).float()
        return (self.targets_loss(logits_s, probs) * mask).mean(), mask
