"""``fl-estimate demo``: a quick look at the real UK 2013 table shipped in ``data_samples/``.

Descriptives, an overlap chart, estimates by several methods side by side (a table and a forest
plot) and a manifest. The annual main job (``make demo``) is ``fl-estimate run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from fl_estimate.i18n import N_

#: (label, method, options) run by the demo; the labels are catalog messages: English in the
#: CSV and JSON files, in the language of the run on the chart
DEMO_METHODS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (N_("independence, profile"), "independence", {"interval": "profile"}),
    (N_("stepwise, Wald (conditional)"), "stepwise", {"interval": "wald"}),
    (N_("stepwise, BCa bootstrap"), "stepwise", {"interval": "bootstrap"}),
    (N_("BIC (pairwise), Wald (conditional)"), "bic", {"interval": "wald"}),
    (N_("Chao lower bound"), "chao", {}),
)

DEFAULT_DATA = Path("data_samples") / "uk_2013.csv"


def run_demo(
    data_path: Path, out: Path, *, seed: int = 20240601, n_boot: int = 1000, lang: str = "en"
) -> list[Path]:
    """Describe and estimate ``data_path`` into ``out``; returns the files written.

    ``lang`` is the language of the charts (titles, labels, numbers); the CSV and JSON files keep
    the English labels and the codes.
    """
    from fl_estimate._figures import detached, save
    from fl_estimate.i18n import format_percent, translate
    from fl_estimate.mse.api import estimate
    from fl_estimate.mse.data import CaptureData, read_capture_csv
    from fl_estimate.outputs import publish_folder, write_json, write_manifest
    from fl_estimate.outputs.cells import write_csv
    from fl_estimate.plotting import plot_overlaps
    from fl_estimate.results import compare

    data = read_capture_csv(data_path)
    if not isinstance(data, CaptureData):  # pragma: no cover - demo data is unstratified
        raise TypeError("the demo expects an unstratified table")
    with publish_folder(out, kind="demo", inputs=[data_path]) as stage, detached():
        written = []
        for name, frame in data.describe().items():
            p = stage / f"descriptives_{name}.csv"
            write_csv(frame, p)
            written.append(p)
        written += save(plot_overlaps(data, lang=lang).figure, stage, "overlaps")
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
        write_csv(cmp.to_frame(), p)
        written.append(p)
        p = stage / "estimates.json"
        write_json(p, {k: r.to_dict() for k, r in results.items()})
        written.append(p)
        ax = cmp.plot(lang=lang)
        levels = sorted({r.level for r in results.values()})
        words = [f"{v:.0%}" if lang == "en" else format_percent(v, lang, 0) for v in levels]
        both = words[0]
        for w in words[1:]:
            both = N_("{first} and {second}", first=both, second=w)
        title = N_(
            "{file}: estimates by method ({levels} intervals)", file=data_path.name, levels=both
        )
        ax.set_title(translate(title, lang), fontsize=10)
        written += save(ax.figure, stage, "estimates")
        write_manifest(
            stage / "manifest.json",
            kind="demo",
            inputs={data_path.name: data_path},
            config={
                "job": "demo: describe and estimate",
                "data": data_path.name,
                "methods": [{"label": lab, "method": m, **o} for lab, m, o in DEMO_METHODS],
                "n_boot": n_boot,
                "seed": seed,
            },
            run={"output": str(Path(out).resolve())},
        )
    return [out / p.name for p in written] + [out / "manifest.json"]


def demo(
    ctx: typer.Context,
    out: Path = typer.Option(
        Path("demo_output"), "--out", help=N_("Output folder (replaced whole).")
    ),
    data: Path = typer.Option(DEFAULT_DATA, "--data", help=N_("Capture table to use.")),
    n_boot: int = typer.Option(1000, "--n-boot", help=N_("Bootstrap replicates.")),
) -> None:
    from fl_estimate.cli.usage import echo_in, message_lang

    lang = message_lang(ctx)
    files = run_demo(data, out, n_boot=n_boot, lang=lang)
    echo_in(lang)(N_("wrote {n} files to {folder}/", n=len(files), folder=out))
    for f in files:
        typer.echo(f"  {f}")


def register(app: typer.Typer) -> None:
    app.command(
        "demo",
        help=N_(
            "Quick look at a real table (UK 2013): descriptives, overlap chart, estimates by "
            "several methods. The annual main job is `fl-estimate run data_samples/country.toml` "
            "(make demo)."
        ),
    )(demo)
