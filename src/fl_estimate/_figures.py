"""Where the package's charts get their figures: pyplot for an interactive user, or figures that
no backend manages when a program writes files.

Every chart function that makes its own figure (``ax=None``) calls :func:`subplots`. By default
that is :func:`matplotlib.pyplot.subplots`, so a chart shows in Jupyter or in a window as a user
expects. Inside ``with detached():`` it makes a :class:`matplotlib.figure.Figure` on an Agg canvas
instead: nothing is registered with pyplot, no window opens, nothing needs closing, and the
caller's backend is never switched (``matplotlib.use`` is not called). The annual run's report and
``fl-estimate demo`` draw their charts that way.

>>> with detached():
...     fig, ax = subplots(figsize=(2, 1))
>>> type(fig.canvas).__name__
'FigureCanvasAgg'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

__all__ = ["detached", "save", "subplots"]

_DETACHED: ContextVar[bool] = ContextVar("fl_estimate_detached_figures", default=False)


@contextlib.contextmanager
def detached() -> Iterator[None]:
    """Make :func:`subplots` return figures that pyplot does not manage, inside the block."""
    token = _DETACHED.set(True)
    try:
        yield
    finally:
        _DETACHED.reset(token)


def subplots(figsize: tuple[float, float], **kwargs: Any) -> tuple[Any, Any]:
    """``(figure, axes)`` as :func:`matplotlib.pyplot.subplots` returns them (``kwargs`` as there).

    Inside :func:`detached`, a :class:`~matplotlib.figure.Figure` on an Agg canvas instead.
    """
    if not _DETACHED.get():
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=figsize, **kwargs)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    nrows = kwargs.pop("nrows", 1)
    ncols = kwargs.pop("ncols", 1)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save(fig: Any, folder: Path, name: str, *, dpi: int = 150) -> list[Path]:
    """Write ``name.png`` and ``name.svg`` of a figure into ``folder``; returns the two paths.

    The files are the same bytes on every run (:func:`fl_estimate.outputs.save_figure`: no date
    or software version in their metadata, SVG element ids from a fixed salt), written
    atomically.
    """
    from fl_estimate.outputs.determinism import save_figure

    paths = []
    for ext in ("png", "svg"):
        path = Path(folder) / f"{name}.{ext}"
        save_figure(fig, path, dpi=dpi)
        paths.append(path)
    return paths
