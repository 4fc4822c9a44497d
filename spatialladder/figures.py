"""PNG figures through matplotlib's object API: a ``Figure`` on its own Agg canvas, never pyplot.

Why: ``matplotlib.use("Agg")`` switches the backend of the whole process (a notebook or GUI importing us would
lose its own), and pyplot keeps every figure in a global registry until closed. A bare ``Figure`` with a
``FigureCanvasAgg`` touches no global state and is freed like any object. matplotlib is imported on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def new_figure(width_in: float, height_in: float) -> Any:
    """A ``matplotlib.figure.Figure`` of that size (inches) drawn by its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: str | Path, dpi: int = 100) -> Path:
    """Lay out ``fig`` and write it as a PNG at ``path``."""
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, format="png")
    return path
