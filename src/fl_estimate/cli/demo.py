"""``fl-estimate demo``: a quick look at the real UK 2013 table shipped in ``data_samples/``.

Descriptives, an overlap chart, estimates by several methods side by side (a table and a forest
plot) and a manifest. The annual main job (``make demo``) is ``fl-estimate run``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

#: (label, method, options) run by the demo
DEMO_METHODS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("independence, profile", "independence", {"interval": "profile"}),
    ("stepwise, Wald (conditional)", "stepwise", {"interval": "wald"}),
    ("stepwise, BCa bootstrap", "stepwise", {"interval": "bootstrap"}),
    ("BIC (pairwise), Wald (conditional)", "bic", {"interval": "wald"}),
    ("Chao lower bound", "chao", {}),
)

DEFAULT_DATA = Path("data_samples") / "uk_2013.csv"


def run_demo(data_path: Path, out: Path, *, seed: int = 20240601, n_boot: int = 1000) -> list[Path]:
    """Describe and estimate ``data_path`` into ``out``; returns the files written."""
    from fl_estimate._figures import detached, save
    from fl_estimate._io import atomic_output_dir, write_manifest
    from fl_estimate.mse.api import estimate
    from fl_estimate.mse.data import CaptureData, read_capture_csv
    from fl_estimate.plotting import plot_overlaps
    from fl_estimate.results import compare, json_safe

    data = read_capture_csv(data_path)
    if not isinstance(data, CaptureData):  # pragma: no cover - demo data is unstratified
        raise TypeError("the demo expects an unstratified table")
    with atomic_output_dir(out) as stage, detached():
        written = []
        for name, frame in data.describe().items():
            p = stage / f"descriptives_{name}.csv"
            frame.to_csv(p, index=False, lineterminator="\n")
            written.append(p)
        written += save(plot_overlaps(data).figure, stage, "overlaps")
        results = {
            label: estimate(
                data,
                method,
                seed=seed,
                **opts,
                **({"n_boot": n_boot} if opts.get("interval") == "bootstrap" else {}),
            )
            for label, method, opts in DEMO_METHODS
        }
        cmp = compare(results)
        p = stage / "estimates.csv"
        cmp.to_frame().to_csv(p, index=False, lineterminator="\n")
        written.append(p)
        p = stage / "estimates.json"
        p.write_text(
            json.dumps(json_safe({k: r.to_dict() for k, r in results.items()}), indent=2) + "\n"
        )
        written.append(p)
        ax = cmp.plot()
        levels = sorted({f"{r.level:.0%}" for r in results.values()})
        ax.set_title(
            f"{data_path.name}: estimates by method ({' and '.join(levels)} intervals)",
            fontsize=10,
        )
        written += save(ax.figure, stage, "estimates")
        write_manifest(
            stage / "manifest.json",
            inputs=[data_path],
            config={
                "job": "demo: describe and estimate",
                "data": str(data_path),
                "methods": [{"label": lab, "method": m, **o} for lab, m, o in DEMO_METHODS],
                "n_boot": n_boot,
            },
            seed=seed,
            outputs=written,
        )
    return [out / p.name for p in written] + [out / "manifest.json"]


def demo(
    out: Path = typer.Option(Path("demo_output"), "--out", help="Output folder (replaced whole)."),
    data: Path = typer.Option(DEFAULT_DATA, "--data", help="Capture table to use."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap replicates."),
) -> None:
    """Quick look at a real table (UK 2013): descriptives, overlap chart, estimates by several
    methods. The annual main job is `fl-estimate run data_samples/country.toml` (make demo)."""
    files = run_demo(data, out, n_boot=n_boot)
    typer.echo(f"wrote {len(files)} files to {out}/")
    for f in files:
        typer.echo(f"  {f}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
