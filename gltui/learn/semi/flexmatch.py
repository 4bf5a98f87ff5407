"""FlexMatch (Zhang et al. 2021): curriculum pseudo-labelling. Each class's threshold is tau
scaled by its "learning status": how many unlabeled images currently hold a confident prediction
of that class (above tau), relative to the best-learnt class, through the convex map x / (2 - x).
While most images have none yet (warm-up), the unused count is the reference, so every threshold
starts low. The per-image predictions are state: a (n_unlabeled,) tensor in the checkpoint."""

from __future__ import annotations

import torch

from gltui.learn.semi.base import Algorithm


class FlexMatch(Algorithm):
    name = "flexmatch"
    student_view = "strong"

    def __init__(self, cfg, num_classes, device, n_unlabeled):
        super().__init__(cfg, num_classes, device, n_unlabeled)
        self.selected = torch.full((n_unlabeled,), -1, dtype=torch.int64, device=device)

    def unsup_loss(self, logits_s, probs_w, idx, step):
        probs = self.align(probs_w)
        conf, pl = probs.max(1)
        c = self.num_classes
        # [unused, class 0..c-1]
        counts = torch.bincount(self.selected + 1, minlength=c + 1).float()
        # threshold warm-up: the unused count
        reference = torch.maximum(counts[1:].max(), counts[0])
        status = counts[1:] / reference.clamp(min=1.0)
        tau = self.cfg.threshold
        mask = (conf >= tau * (status[pl] / (2.0 - status[pl]))).float()
        confident = conf > tau
        self.selected[idx[confident]] = pl[confident]
        return (self.targets_loss(logits_s, probs) * mask).mean(), mask

    def extra_state(self):
        return {"selected": self.selected.detach().cpu().clone()}

    def load_extra_state(self, state):
        self.selected = state["selected"].to(self.device).clone()
