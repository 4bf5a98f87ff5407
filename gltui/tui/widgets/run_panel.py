"""Run facts: strategy, phase, round, labeled and pool counts, the queue, the other runs."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class RunPanel(Static):
    DEFAULT_CSS = "RunPanel { height: auto; }"

    def show(self, summary, others, oracle: bool, signals=None) -> None:
        """signals: gltui.results.Signals of this run (the audit estimate and kappa), if any."""
        s = summary
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{s.name}", style="bold")
        text.append(f"  {s.strategy} · seed {s.seed} · profile {s.profile}\n")
        text.append("phase ")
        text.append(s.phase, style="bold")
        text.append(f" · round {s.round}\n")
        text.append(f"labeled {s.n_labeled:,} · pool {s.n_pool:,}\n")
        if s.phase == "label":
            text.append(f"queue {s.n_queued} pending\n")
        elif s.phase == "done":
            text.append(f"done: {s.stop_reason or ''}\n", style="bold green")
        else:
            text.append("queue: after this round\n", style="dim")
        if signals is not None:
            _signals(text, signals)
        if getattr(self.app, "has_oracle", True):  # no true labels: no oracle to offer
            text.append("oracle ")
            text.append("on" if oracle else "off", style="bold reverse" if oracle else "")
            text.append("  (o)", style="dim")
        else:
            text.append("no oracle (no true labels): you label", style="dim")
        for o in others:
            text.append(f"\n{o.name} ({o.strategy}): {o.phase} r{o.round}, {o.n_labeled:,} labeled",
                        style="dim")
        self.update(text)


def _signals(text: Text, signals) -> None:
    """The audit estimate (named as one, with its n; the test accuracy beside it where there is
    one) and the last rounds' stop-set kappa, in lines that fit the panel (~36 columns)."""
    if signals.estimate is not None:
        round, est = signals.estimate
        low, high = est.interval
        text.append(f"accuracy estimate r{round}: ")
        text.append(f"{est.accuracy:.3f}\n", style="bold")
        text.append(f"  audit n={est.n}, 95% [{low:.3f}, {high:.3f}]")
        if est.small:
            text.append(" few!", style="bold yellow")
        text.append("\n")
        if signals.test_accuracy is not None:
            text.append(f"  test {signals.test_accuracy:.3f}\n")
    if signals.audit is not None and signals.audit[0] < signals.audit[1]:
        labeled, size = signals.audit
        text.append(f"audit set {labeled}/{size} labeled\n", style="dim")
    if signals.kappas:
        text.append("kappa " + " · ".join(f"r{r} {k:.3f}" for r, k in signals.kappas[-2:])
                    + "\n")
