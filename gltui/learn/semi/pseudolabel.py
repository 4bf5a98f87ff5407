"""Pseudo-Label (Lee 2013): confident teacher predictions become hard labels, learnt on a second
weak draw of the same images (no strong augmentation): the baseline the consistency methods beat.
Its loss is FixMatch's; only the student's view differs."""

from __future__ import annotations

from gltui.learn.semi.fixmatch import FixMatch


class PseudoLabel(FixMatch):
    name = "pseudolabel"
    student_view = "weak"
