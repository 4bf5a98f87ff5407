"""Mean Teacher (Tarvainen & Valpola 2017): the student's softmax on its own view is pulled toward
the EMA teacher's on the weak view by a squared error, on every image (no mask). Its weight must
ramp up (SemiConfig.unsup_warmup_steps): early targets are noise."""

from __future__ import annotations

import torch

from gltui.learn.semi.base import Algorithm


class MeanTeacher(Algorithm):
    name = "meanteacher"
    student_view = "weak"

    def unsup_loss(self, logits_s, probs_w, idx, step):
        probs = self.align(probs_w)
        loss = ((logits_s.softmax(1) - probs) ** 2).sum(1)
        return loss.mean(), torch.ones_like(loss)
