"""Make the synthetic sample country in data_samples/country/ (or a large one for benchmarks).

    python data_samples/make_country.py                 # the committed sample (about 2,800 records)
    python data_samples/make_country.py --large OUT     # about 100,000 records, into OUT
    python data_samples/make_country.py --typo-rate 0.16 OUT

The population (known size by region and year) comes from fl_estimate.simulate; see
fl_estimate.providers.synthetic for how records, names and errors are made. Every name is
invented. The same arguments always give the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fl_estimate.providers.submissions import write_template
from fl_estimate.providers.synthetic import make_country, write_country

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", nargs="?", type=Path, default=HERE / "country")
    ap.add_argument("--large", action="store_true", help="about 100,000 records")
    ap.add_argument("--scale", type=float, default=None, help="population scale (default 1)")
    ap.add_argument("--typo-rate", type=float, default=0.08)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)
    scale = args.scale if args.scale is not None else (36.0 if args.large else 1.0)
    country = make_country(scale=scale, typo_rate=args.typo_rate, seed=args.seed)
    out = write_country(country, args.out)
    examples = out / "examples"
    examples.mkdir(exist_ok=True)
    write_template(examples / "template.csv")
    write_template(examples / "template.xlsx")
    police = country.submissions[("police", "2021-Q1")].head(5)
    write_template(examples / "example_filled.csv", police)
    write_template(examples / "example_filled.xlsx", police)
    print(
        f"{country.n_records} records in {len(country.submissions)} submissions from "
        f"{int(country.population['N'].sum())} people -> {out}"
    )
    if not args.large and args.out == HERE / "country":
        (out / ".gitignore").write_text("linkage_output/\n")


if __name__ == "__main__":
    main()
