"""Make the synthetic sample country in data_samples/country/ (or a large one for benchmarks).

    python data_samples/make_country.py                 # the committed sample (about 2,800 records)
    python data_samples/make_country.py --large OUT     # about 100,000 records, into OUT
    python data_samples/make_country.py --typo-rate 0.16 OUT
    python data_samples/make_country.py --profile sahel --size small OUT   # name-dense country

The population (known size by region and year) comes from fl_estimate.simulate; see
fl_estimate.providers.synthetic for how records, names and errors are made. Every name is
invented. The same arguments always give the same files.

With --profile (sahel, latin or south_asia), the country is one of the linkage benchmark's
profiles (fl_estimate.providers.country_profiles): real-looking, name-dense populations with
households, variant spellings and unknown birth dates, at --size small (about 500 records),
large (about 100,000), xlarge (about 1,000,000) or a number of records. OUT then holds the
submissions, registry, link.toml, the demonstration key, and truth/ (population.csv, records.csv
with the truth of every record, histories.csv with the true capture histories); run
`fl-estimate link OUT/link.toml` on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fl_estimate.providers.country_profiles import PROFILES, SIZES, make_profile_country
from fl_estimate.providers.submissions import write_template
from fl_estimate.providers.synthetic import make_country, write_country

HERE = Path(__file__).resolve().parent


def _size(text: str) -> str | int:
    if text in SIZES:
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--size must be {', '.join(SIZES)} or a number of records, not {text!r}"
        ) from None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", nargs="?", type=Path, default=HERE / "country")
    ap.add_argument("--large", action="store_true", help="about 100,000 records")
    ap.add_argument("--scale", type=float, default=None, help="population scale (default 1)")
    ap.add_argument("--typo-rate", type=float, default=None)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--profile", choices=sorted(PROFILES), default=None)
    ap.add_argument("--size", type=_size, default="small", help="with --profile (default small)")
    args = ap.parse_args(argv)
    if args.profile is not None:
        if args.out == HERE / "country":
            ap.error("give an output folder for a profile country (not the committed sample)")
        extra = {} if args.typo_rate is None else {"typo_rate": args.typo_rate}
        country = make_profile_country(args.profile, args.size, seed=args.seed, **extra)
        out = write_country(
            country,
            args.out,
            resubmission_examples=False,
            what=f"country of profile {args.profile!r} (size {args.size})",
        )
        print(
            f"{country.n_records} records in {len(country.submissions)} submissions from "
            f"{len(country.histories) if country.histories is not None else '?'} observed "
            f"people of {int(country.population['N'].sum())} -> {out}"
        )
        return
    scale = args.scale if args.scale is not None else (36.0 if args.large else 1.0)
    typo_rate = 0.08 if args.typo_rate is None else args.typo_rate
    country = make_country(scale=scale, typo_rate=typo_rate, seed=args.seed)
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
