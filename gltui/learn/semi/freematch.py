"""FreeMatch (Wang et al. 2023): self-adaptive thresholds. The global threshold is the running
mean of the teacher's top confidence (low while the model is unsure, so pseudo-labels flow from the
first steps; it rises as it learns), and each class's is that times the class's running mean
probability over the largest one (classes the model finds hard get lower bars). Its fairness loss
is not used (USB's ablation: the thresholds carry the gain)."""

from __future__ import annotations

import torch

from gltui.learn.semi.base import Algorithm


class FreeMatch(Algorithm):
    name = "freematch"
    student_view = "strong"
    momentum = 0.999  # the paper's lambda

    def __init__(self, cfg, num_classes, device, n_unlabeled):
        super().__init__(cfg, num_classes, device, n_unlabeled)
        self.time_p = torch.full((), 1.0 / num_classes, device=device)
        self.class_p = torch.full((num_classes,), 1.0 / num_classes, device=device)

    def unsup_loss(self, logits_s, probs_w, idx, step):
        probs = self.align(probs_w)
        conf, pl = probs.max(1)
        m = self.momentum
        self.time_p.mul_(m).add_(conf.mean(), alpha=1 - m)
        self.class_p.mul_(m).add_(probs.mean(0), alpha=1 - m)
        per_class = self.time_p * self.class_p / self.class_p.max()
        mask = (conf >= per_class[pl]).float()
        return (self.targets_loss(logits_s, probs) * mask).mean(), mask

    def extra_state(self):
        return {"time_p": self.time_p.detach().cpu().clone(),
                "class_p": self.class_p.detach().cpu().clone()}

    def load_extra_state(self, state):
        self.time_p = state["time_p"].to(self.device).clone()
        self.class_p = state["class_p"].to(self.device).clone()
