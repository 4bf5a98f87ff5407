"""How many images a round labels."""

from __future__ import annotations


def next_batch_size(schedule: str, n_labeled: int) -> int:
    """Images to label next round under `schedule`, given `n_labeled` labels so far.

    "exponential" (the paper): as many as are labeled, so the labeled set doubles each round
    (at least 1, so an empty start still moves). "fixed:N": N every round.
    """
    if schedule == "exponential":
        return max(n_labeled, 1)
    if schedule.startswith("fixed:"):
        value = schedule[len("fixed:"):]
        if value.isdigit() and int(value) > 0:
            return int(value)
    raise ValueError(f"unknown schedule {schedule!r}; use 'exponential' or 'fixed:N' with N a "
                     f"positive integer")
