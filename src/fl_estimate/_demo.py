"""The main job on the shipped sample data (``make demo``).

Until the annual pipeline lands, the demo describes the real UK 2013 table shipped in
``data_samples/`` and writes its descriptives, an overlap chart and a manifest.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fl_estimate._io import atomic_output_dir, write_manifest
from fl_estimate.mse.data import CaptureData, read_capture_csv

DEFAULT_DATA = Path("data_samples") / "uk_2013.csv"


def run_demo(data_path: Path, out: Path) -> list[Path]:
    """Describe ``data_path`` into ``out``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fl_estimate.plotting import plot_overlaps

    data = read_capture_csv(data_path)
    if not isinstance(data, CaptureData):  # pragma: no cover - demo data is unstratified
        raise TypeError("the demo expects an unstratified table")
    with atomic_output_dir(out) as stage:
        written = []
        for name, frame in data.describe().items():
            p = stage / f"descriptives_{name}.csv"
            frame.to_csv(p, index=False, lineterminator="\n")
            written.append(p)
        ax = plot_overlaps(data)
        fig = ax.figure
        for ext in ("png", "svg"):
            p = stage / f"overlaps.{ext}"
            fig.savefig(
                p, dpi=150, bbox_inches="tight", metadata={"Date": None} if ext == "svg" else None
            )
            written.append(p)
        plt.close(fig)
        write_manifest(
            stage / "manifest.json",
            inputs=[data_path],
            config={"job": "demo: describe", "data": str(data_path)},
            outputs=written,
        )
    return [out / p.name for p in written] + [out / "manifest.json"]


def demo(
    out: Path = typer.Option(Path("demo_output"), "--out", help="Output folder (replaced whole)."),
    data: Path = typer.Option(DEFAULT_DATA, "--data", help="Capture table to use."),
) -> None:
    """Run the main job on the shipped sample data and write its outputs to --out."""
    files = run_demo(data, out)
    typer.echo(f"wrote {len(files)} files to {out}/")
    for f in files:
        typer.echo(f"  {f}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
