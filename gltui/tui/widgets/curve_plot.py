"""The learning curves: accuracy against labeled count on a log2 axis (as in the paper), every run
of the project on one braille plot so guided and random selection sit side by side."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from gltui.views.curves import Curve

COLORS = ("cyan", "magenta", "yellow", "green", "red", "blue", "white")
# dot bit of (column 0..1, row 0..3) inside one braille cell
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


class CurvePlot(Widget):
    DEFAULT_CSS = "CurvePlot { height: 1fr; min-height: 6; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.curves: list[Curve] = []
        self.highlight: str | None = None

    def set_curves(self, curves: list[Curve], highlight: str | None = None) -> None:
        if curves == self.curves and highlight == self.highlight:
            return
        self.curves, self.highlight = curves, highlight
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        return plot(self.curves, width, height, self.highlight)


def plot(curves: list[Curve], width: int, height: int, highlight: str | None = None) -> Text:
    drawn = [c for c in curves if c.points]
    if not drawn:
        return Text("No finished round yet: the curve appears once round 0 has trained.",
                    style="dim")
    legend = Text()
    for i, c in enumerate(curves):
        style = COLORS[i % len(COLORS)]
        legend.append("━━ ", style=style)
        legend.append(f"{c.run} ({c.strategy})", style="bold" if c.run == highlight else "")
        legend.append("   ")
    metric = ("test acc." if all(c.metric == "test" for c in drawn) else
              "training acc. (not an estimate)" if any(c.metric == "training" for c in drawn) else
              "audit estimate" if all(c.metric == "audit" for c in drawn) else
              "val/test acc.")
    plot_h = max(2, height - 2)  # one line for the x labels, one for the legend
    margin = 5
    plot_w = max(4, width - margin - 1)

    xs = [x for c in drawn for x, _ in c.points]
    ys = [y for c in drawn for _, y in c.points]
    lo_x, hi_x = math.log2(min(xs)), math.log2(max(xs))
    if hi_x - lo_x < 1e-9:
        lo_x, hi_x = lo_x - 1, hi_x + 1
    lo_y = max(0.0, math.floor(min(ys) * 10) / 10)
    hi_y = min(1.0, math.ceil(max(ys) * 10) / 10)
    if hi_y - lo_y < 0.1:
        lo_y, hi_y = max(0.0, hi_y - 0.1), max(hi_y, 0.1)
    dots_w, dots_h = plot_w * 2, plot_h * 4

    def to_dot(x: float, y: float) -> tuple[int, int]:
        dx = (math.log2(x) - lo_x) / (hi_x - lo_x) * (dots_w - 1)
        dy = (hi_y - y) / (hi_y - lo_y) * (dots_h - 1)
        return round(dx), round(dy)

    cells: dict[tuple[int, int], list] = {}  # (cx, cy) -> [bits, series index]
    order = sorted(range(len(curves)), key=lambda i: curves[i].run == highlight)
    for i in order:
        pts = [to_dot(x, y) for x, y in sorted(curves[i].points)]
        if not pts:
            continue
        path = [pts[0]]
        for a, b in zip(pts, pts[1:]):
            path.extend(_line(a, b)[1:])
        for px, py in path:
            px, py = min(max(px, 0), dots_w - 1), min(max(py, 0), dots_h - 1)
            cell = cells.setdefault((px // 2, py // 4), [0, i])
            cell[0] |= _DOTS[px % 2][py % 4]
            cell[1] = i
        for px, py in pts:  # mark the measured points: the whole cell's column pair
            cx, cy = min(px // 2, plot_w - 1), min(py // 4, plot_h - 1)
            cells[(cx, cy)] = [cells.get((cx, cy), [0, i])[0] | 0xFF, i]

    text = Text(no_wrap=True, overflow="crop")
    for row in range(plot_h):
        if row == 0:
            label = f"{hi_y:.2f}"
        elif row == plot_h - 1:
            label = f"{lo_y:.2f}"
        elif row == plot_h // 2 and plot_h > 4:
            label = f"{(hi_y + lo_y) / 2:.2f}"
        else:
            label = ""
        text.append(f"{label:>{margin - 1}}┤", style="dim")
        for col in range(plot_w):
            cell = cells.get((col, row))
            if cell is None:
                text.append(" ")
            else:
                text.append(chr(0x2800 + cell[0]), style=COLORS[cell[1] % len(COLORS)])
        text.append("\n")
    # x axis: the labeled counts that were measured, as many as fit without touching
    axis = [" "] * plot_w
    for x in sorted(set(xs)):
        col = min(to_dot(x, lo_y)[0] // 2, plot_w - 1)
        label = str(x)
        start = min(max(0, col - len(label) // 2), plot_w - len(label))
        if start < 0 or any(ch != " " for ch in axis[max(0, start - 1): start + len(label) + 1]):
            continue
        axis[start: start + len(label)] = list(label)
    text.append(" " * (margin - 1) + "└", style="dim")
    text.append("".join(axis), style="dim")
    text.append("\n")
    text.append(f"{metric} vs labeled (log2)  ", style="dim")
    text.append_text(legend)
    return text


def _line(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Bresenham from a to b, both ends included."""
    (x0, y0), (x1, y1) = a, b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err, out = dx + dy, []
    while True:
        out.append((x0, y0))
        if (x0, y0) == (x1, y1):
            return out
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy
