"""The interface every algorithm implements, and the distribution alignment they share.

The loop (train.py) owns the networks, the views and the optimizer; an algorithm only turns the
teacher's probabilities on a weak view and the student's logits on its own view of the same
unlabeled images into a loss, keeping whatever running statistics it needs (thresholds, class
histograms) as tensors in `state_dict()`, so that a checkpoint holds them and a resumed run goes
on exactly.

    class MyMethod(Algorithm):
        student_view = "strong"          # "strong" | "weak" (a second weak draw) | "none"
        def unsup_loss(self, logits_s, probs_w, idx, step): ... return loss, mask
    register("mymethod", "package.module:MyMethod")
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class Algorithm:
    name = "base"
    # What the student sees of each unlabeled image: FixMatch's strong view, a second weak draw
    # (Mean Teacher, Pseudo-Label), or nothing (the labels-only baseline skips the unlabeled batch).
    student_view = "strong"

    def __init__(self, cfg, num_classes: int, device: torch.device, n_unlabeled: int):
        self.cfg, self.num_classes, self.device, self.n_unlabeled = (cfg, num_classes, device,
                                                                     n_unlabeled)
        # ReMixMatch's distribution alignment: the running mean of the teacher's predictions.
        self.p_model = torch.full((num_classes,), 1.0 / num_classes, device=device)

    # -- what subclasses implement -----------------------------------------------------------

    def unsup_loss(self, logits_s: torch.Tensor, probs_w: torch.Tensor, idx: torch.Tensor,
                   step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(scalar loss, float mask (B,) of the images that counted) for one unlabeled batch.

        logits_s: the student's logits on its view; probs_w: the teacher's softmax on the weak view
        (no grad); idx: the images' rows in the unlabeled set; step: the global step, 0-based."""
        raise NotImplementedError

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    # -- shared --------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"p_model": self.p_model.detach().cpu().clone(), **self.extra_state()}

    def load_state_dict(self, state: dict) -> None:
        self.p_model = state["p_model"].to(self.device).clone()
        self.load_extra_state(state)

    def align(self, probs: torch.Tensor, momentum: float = 0.999) -> torch.Tensor:
        """Distribution alignment (Berthelot et al. 2020), when the config asks for it: scale each
        prediction by uniform / (running mean of predictions) and renormalise, so the pseudo-labels
        do not collapse onto the classes the young model already favours."""
        if not self.cfg.dist_align:
            return probs
        self.p_model.mul_(momentum).add_(probs.mean(0), alpha=1 - momentum)
        aligned = probs / self.p_model.clamp(min=1e-6) / self.num_classes
        return aligned / aligned.sum(1, keepdim=True)

    def targets_loss(self, logits_s: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        """Per-image cross-entropy to the argmax (hard labels) or to the sharpened distribution."""
        if self.cfg.hard_labels:
            return F.cross_entropy(logits_s, probs.argmax(1), reduction="none")
        t = self.cfg.temperature
        soft = probs ** (1.0 / t) if t != 1.0 else probs
        soft = soft / soft.sum(1, keepdim=True)
        return -(soft * F.log_softmax(logits_s, 1)).sum(1)
