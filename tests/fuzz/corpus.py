"""A corpus of bad inputs over every input surface of the command line (issue 19).

Each :class:`Case` writes a few small files into a fresh folder and names the command line to run
on them. :func:`run_case` runs it in-process (:func:`fl_estimate.cli.main`) and classifies the
outcome:

``clean``
    exit 2, one error line on stderr naming the file (and row/column where there is one), no
    traceback, nothing written or removed in the folder;
``crash``
    exit 1, a traceback, or an exception escaping :func:`~fl_estimate.cli.main`;
``silent``
    exit 0 (a result printed for bad input), or exit 2 without naming what is wrong, or files
    written or removed.

``tests/fuzz/test_corpus.py`` asserts that every case is ``clean``; ``benchmarks/fuzz.py`` prints
the table by surface.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COUNTRY = ROOT / "data_samples" / "country"
SURVEY = ROOT / "data_samples" / "survey"

#: Writes the case's files into the folder and returns the CLI arguments.
Builder = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    """One bad input: ``surface`` (for the table), ``name``, how to build it, what stderr names."""

    surface: str
    name: str
    build: Builder
    names: tuple[str, ...] = field(default=())
    env: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.surface}:{self.name}"


@dataclass(frozen=True)
class Outcome:
    code: int | None
    stderr: str
    stdout: str
    kind: str  # clean | crash | silent
    why: str


# -- generated files -------------------------------------------------------------------------

CAPTURE = "A,B,C,count\n1,0,0,10\n0,1,0,12\n0,0,1,9\n1,1,0,4\n1,0,1,3\n0,1,1,5\n1,1,1,2\n"
HISTORIES = "person,A,B,C\n" + "".join(
    f"p{i},{int(i % 2 == 0)},{int(i % 3 == 0)},{int(i % 5 == 0 or i % 7 == 1)}\n"
    for i in range(1, 40)
)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _lines(text: str) -> list[list[str]]:
    return [ln.split(",") for ln in text.strip("\n").split("\n")]


def _join(rows: list[list[str]]) -> str:
    return "".join(",".join(r) + "\n" for r in rows)


def _set(text: str, row: int, col: str, value: str) -> str:
    """``text`` with the cell at spreadsheet ``row`` (header is row 1) and column ``col`` set."""
    rows = _lines(text)
    rows[row - 1][rows[0].index(col)] = value
    return _join(rows)


def _xlsx(path: Path, text: str) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in _lines(text):
        ws.append([int(v) if v.lstrip("-").isdigit() and len(v) < 12 else v for v in r])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _submission_text() -> str:
    src = (COUNTRY / "submissions" / "police_2021-Q1.csv").read_text(encoding="utf-8")
    return "\n".join(src.split("\n")[:4]) + "\n"


SUBMISSION = _submission_text() if COUNTRY.exists() else ""


def _registry_text() -> str:
    return (COUNTRY / "registry.csv").read_text(encoding="utf-8")


KEY = "fuzz-corpus-demonstration-key-0123456789abcdef"


# -- cases ---------------------------------------------------------------------------------


def _capture_cases() -> Iterator[Case]:
    bad_tables: list[tuple[str, str | bytes, tuple[str, ...]]] = [
        ("count-1e30", _set(CAPTURE, 2, "count", "1e30"), ("row 2", "count")),
        (
            "count-5e18-twice",
            _set(
                _set(CAPTURE, 2, "count", "5000000000000000000"), 3, "count", "5000000000000000000"
            ),
            ("count",),
        ),
        ("count-2^63", _set(CAPTURE, 2, "count", "9223372036854775808"), ("row 2", "count")),
        ("count-negative", _set(CAPTURE, 3, "count", "-4"), ("row 3", "count")),
        ("count-fraction", _set(CAPTURE, 4, "count", "1.5"), ("row 4", "count")),
        ("count-text", _set(CAPTURE, 5, "count", "many"), ("row 5", "count")),
        ("count-nan", _set(CAPTURE, 2, "count", "nan"), ("row 2", "count")),
        ("count-inf", _set(CAPTURE, 2, "count", "inf"), ("row 2", "count")),
        ("count-empty", _set(CAPTURE, 6, "count", ""), ("row 6", "count")),
        ("list-2", _set(CAPTURE, 2, "A", "2"), ("row 2", "A")),
        ("list-negative", _set(CAPTURE, 3, "B", "-1"), ("row 3", "B")),
        ("list-text", _set(CAPTURE, 4, "C", "yes"), ("row 4", "C")),
        ("list-empty", _set(CAPTURE, 4, "C", ""), ("row 4", "C")),
        ("ragged-long", CAPTURE.replace("1,1,1,2\n", "1,1,1,2,7\n"), ("row 8",)),
        ("ragged-short", CAPTURE.replace("1,1,0,4\n", "1,1\n"), ("row 5",)),
        ("ragged-histories", HISTORIES.replace("p4,", "p4,1,").replace("p3,", "p3,,,"), ()),
        ("empty-file", "", ()),
        ("header-only", "A,B,C,count\n", ()),
        ("one-list", "A,count\n1,10\n", ()),
        ("duplicate-column", "A,A,B,count\n1,0,0,3\n0,1,1,4\n1,1,1,2\n", ("A",)),
        ("binary", bytes(range(256)) * 4, ()),
        ("latin1-bad-cell", _set(CAPTURE, 3, "count", "dix-é").encode("latin-1"), ("row 3",)),
        ("utf16-bad-cell", _set(CAPTURE, 3, "count", "x").encode("utf-16"), ("row 3",)),
        ("all-zero-pattern", CAPTURE + "0,0,0,5\n", ("row 9",)),
        ("no-list-columns", "count\n5\n", ()),
        (
            "zero-total",
            CAPTURE.replace(",10\n", ",0\n")
            .replace(",12\n", ",0\n")
            .replace(",9\n", ",0\n")
            .replace(",4\n", ",0\n")
            .replace(",3\n", ",0\n")
            .replace(",5\n", ",0\n")
            .replace(",2\n", ",0\n"),
            (),
        ),
    ]
    for command in ("describe", "mse"):
        for name, text, names in bad_tables:

            def build(d: Path, text: str | bytes = text, command: str = command) -> list[str]:
                return [command, str(_write(d / "capture.csv", text))]

            yield Case(command, name, build, ("capture.csv", *names))

        def missing(d: Path, command: str = command) -> list[str]:
            return [command, str(d / "nothere.csv")]

        def directory(d: Path, command: str = command) -> list[str]:
            (d / "adir.csv").mkdir()
            return [command, str(d / "adir.csv")]

        def xlsx_garbage(d: Path, command: str = command) -> list[str]:
            return [command, str(_write(d / "capture.xlsx", b"PK\x03\x04 not really a zip"))]

        def bad_strata(d: Path, command: str = command) -> list[str]:
            return [command, str(_write(d / "capture.csv", CAPTURE)), "--strata", "region"]

        yield Case(command, "missing-file", missing, ("nothere.csv",))
        yield Case(command, "directory", directory, ("adir.csv",))
        yield Case(command, "xlsx-garbage", xlsx_garbage, ("capture.xlsx",))
        yield Case(command, "unknown-stratum", bad_strata, ("capture.csv", "region"))

    def unknown_lists(d: Path) -> list[str]:
        return ["describe", str(_write(d / "capture.csv", CAPTURE)), "--lists", "A,Z"]

    yield Case("describe", "unknown-list", unknown_lists, ("capture.csv", "Z"))

    def many_lists(d: Path) -> list[str]:
        k = 30
        header = ",".join(f"L{i}" for i in range(k)) + ",count\n"
        patterns = [(1 << i) | (1 << ((i + 1) % k)) for i in range(k)] + [1 << i for i in range(k)]
        rows = "".join(
            ",".join("1" if (j >> i) & 1 else "0" for i in range(k)) + ",3\n" for j in patterns
        )
        return ["mse", str(_write(d / "capture.csv", header + rows)), "--method", "independence"]

    yield Case("mse", "30-lists-memory", many_lists, ("capture.csv", "30"))

    def many_lists_default(d: Path) -> list[str]:
        args = many_lists(d)
        return args[:2]

    yield Case("mse", "30-lists-default-method", many_lists_default, ("capture.csv", "30"))


def _option_cases() -> Iterator[Case]:
    opts: list[tuple[str, list[str], tuple[str, ...]]] = [
        ("n-boot-minus-5", ["--interval", "bootstrap", "--n-boot", "-5"], ("n_boot", "-5")),
        ("n-boot-0", ["--interval", "bootstrap", "--n-boot", "0"], ("n_boot", "0")),
        ("n-boot-0-no-interval", ["--n-boot", "0"], ("n_boot",)),
        ("pthresh-5", ["--method", "stepwise", "--pthresh", "5"], ("pthresh", "5")),
        ("pthresh-minus-1", ["--method", "stepwise", "--pthresh", "-1"], ("pthresh",)),
        ("pthresh-0", ["--method", "stepwise", "--pthresh", "0"], ("pthresh",)),
        ("pthresh-1", ["--method", "stepwise", "--pthresh", "1"], ("pthresh",)),
        ("pthresh-nan", ["--method", "stepwise", "--pthresh", "nan"], ("pthresh",)),
        ("level-1.5", ["--level", "1.5"], ("level",)),
        ("level-0", ["--level", "0"], ("level",)),
        ("level-1", ["--level", "1"], ("level",)),
        ("level-nan", ["--level", "nan"], ("level",)),
        ("chains-0", ["--method", "lcmcr", "--chains", "0"], ("chains",)),
        ("chains-minus-1", ["--method", "dga", "--chains", "-1"], ("chains",)),
        ("draws-0", ["--method", "lcmcr", "--draws", "0"], ("draws",)),
        ("max-order-0", ["--method", "bic", "--max-order", "0"], ("max_order",)),
        ("max-order-9", ["--method", "bic", "--max-order", "9"], ("max_order",)),
        (
            "top-models-0",
            ["--method", "bic", "--interval", "bootstrap", "--top-models", "0"],
            ("top_models",),
        ),
        ("theta-minus-1", ["--method", "mh", "--h", "poisson", "--theta", "-1"], ("theta",)),
        ("theta-inf", ["--method", "mh", "--h", "gamma", "--theta", "inf"], ("theta",)),
        ("seed-negative", ["--interval", "bootstrap", "--n-boot", "10", "--seed", "-3"], ("seed",)),
        ("method-unknown", ["--method", "magic"], ("magic",)),
        ("interval-unknown", ["--interval", "psychic"], ("psychic",)),
        ("model-unknown-list", ["--method", "loglinear", "--model", "A:Z"], ("Z",)),
        ("model-garbage", ["--method", "loglinear", "--model", "A::B+"], ("A::B+",)),
        ("criterion-unknown", ["--method", "stepwise", "--criterion", "vibes"], ("vibes",)),
        ("h-unknown", ["--method", "mh", "--h", "weird"], ("weird",)),
        ("option-not-taken", ["--method", "chao", "--pthresh", "0.1"], ("pthresh",)),
    ]
    for name, extra, names in opts:

        def build(d: Path, extra: list[str] = extra) -> list[str]:
            return ["mse", str(_write(d / "capture.csv", CAPTURE)), *extra]

        yield Case("cli-options", name, build, names)


def _submission_cases() -> Iterator[Case]:
    sub = SUBMISSION
    cells: list[tuple[str, int, str, str, tuple[str, ...]]] = [
        ("age-vs-band", 2, "age_band", "adult", ("row 2",)),
        ("dob-1800", 3, "date_of_birth", "02/07/1800", ("row 3", "date_of_birth")),
        ("age-vs-dob", 4, "date_of_birth", "10/11/1930", ("row 4",)),
        ("nationality-XXX", 2, "nationality", "XXX", ("row 2", "nationality")),
        ("nationality-lower", 2, "nationality", "ner", ("row 2", "nationality")),
        ("age-nan", 3, "age", "nan", ("row 3", "age")),
        ("age-inf", 3, "age", "inf", ("row 3", "age")),
        ("age-negative", 3, "age", "-3", ("row 3", "age")),
        ("age-200", 3, "age", "200", ("row 3", "age")),
        ("age-text", 3, "age", "old", ("row 3", "age")),
        ("age-fraction", 3, "age", "12.5", ("row 3", "age")),
        ("date-outside-period", 2, "date_identified", "2019-05-01", ("row 2",)),
        ("date-garbage", 2, "date_identified", "yesterday", ("row 2",)),
        ("birth-after-identification", 2, "date_of_birth", "07/04/2022", ("row 2",)),
        ("record-id-formula", 2, "record_id", "@SUM(1+1)", ("row 2", "record_id")),
        ("region-formula", 3, "region", "=1+1", ("row 3", "region")),
        ("region-plus", 3, "region", "+cmd", ("row 3", "region")),
        ("duplicate-record-id", 3, "record_id", "POL-000569", ("row 3", "record_id")),
        ("period-garbage", 2, "period", "2021-Q5", ("row 2", "period")),
        ("provider-empty", 2, "provider", "", ("row 2", "provider")),
        ("sex-Z", 2, "sex", "Z", ("row 2", "sex")),
        ("exploitation-unknown", 2, "exploitation", "Juggling", ("row 2", "exploitation")),
        ("no-age-no-band-no-dob", 2, "age", "", ("row 2",)),
    ]
    for fmt in ("csv", "xlsx"):
        for name, row, col, value, names in cells:
            text = _set(sub, row, col, value)
            if name == "no-age-no-band-no-dob":
                text = _set(text, row, "date_of_birth", "")

            def build(d: Path, text: str = text, fmt: str = fmt) -> list[str]:
                f = d / f"police_2021-Q1.{fmt}"
                _write(f, text) if fmt == "csv" else _xlsx(f, text)
                return ["submissions", "check", str(f)]

            yield Case(f"submissions-{fmt}", name, build, (f"police_2021-Q1.{fmt}", *names))

        def missing_col(d: Path, fmt: str = fmt) -> list[str]:
            rows = _lines(sub)
            i = rows[0].index("record_id")
            text = _join([r[:i] + r[i + 1 :] for r in rows])
            f = d / f"police_2021-Q1.{fmt}"
            _write(f, text) if fmt == "csv" else _xlsx(f, text)
            return ["submissions", "check", str(f)]

        yield Case(
            f"submissions-{fmt}",
            "missing-column",
            missing_col,
            (f"police_2021-Q1.{fmt}", "record_id"),
        )

        def header_only(d: Path, fmt: str = fmt) -> list[str]:
            f = d / f"police_2021-Q1.{fmt}"
            text = sub.split("\n")[0] + "\n"
            _write(f, text) if fmt == "csv" else _xlsx(f, text)
            return ["submissions", "check", str(f)]

        yield Case(f"submissions-{fmt}", "no-rows", header_only, (f"police_2021-Q1.{fmt}",))

        def unknown_region(d: Path, fmt: str = fmt) -> list[str]:
            f = d / f"police_2021-Q1.{fmt}"
            text = _set(sub, 2, "region", "Atlantis")
            _write(f, text) if fmt == "csv" else _xlsx(f, text)
            reg = _write(d / "registry.csv", _registry_text())
            return ["submissions", "check", str(f), "--registry", str(reg)]

        yield Case(
            f"submissions-{fmt}",
            "unknown-region",
            unknown_region,
            (f"police_2021-Q1.{fmt}", "row 2", "region"),
        )

        def unknown_provider(d: Path, fmt: str = fmt) -> list[str]:
            f = d / f"police_2021-Q1.{fmt}"
            rows = _lines(sub)
            text = _join([rows[0]] + [["martians", *r[1:]] for r in rows[1:]])
            _write(f, text) if fmt == "csv" else _xlsx(f, text)
            reg = _write(d / "registry.csv", _registry_text())
            return ["submissions", "check", str(f), "--registry", str(reg)]

        yield Case(
            f"submissions-{fmt}",
            "unknown-provider",
            unknown_provider,
            (f"police_2021-Q1.{fmt}", "provider"),
        )

    raw_files: list[tuple[str, str, bytes, tuple[str, ...]]] = [
        ("binary", "police.csv", bytes(range(256)) * 4, ("police.csv",)),
        (
            "latin1",
            "police.csv",
            _set(sub, 2, "family_name", "Namarhé").encode("latin-1").replace(b"NGA", b"XXX"),
            ("police.csv", "row 2"),
        ),
        (
            "utf16",
            "police.csv",
            _set(sub, 2, "nationality", "XXX").encode("utf-16"),
            ("police.csv", "row 2"),
        ),
        ("xlsx-garbage", "police.xlsx", b"PK\x03\x04garbage", ("police.xlsx",)),
        ("csv-that-is-xlsx", "police.csv", b"PK\x03\x04garbage", ("police.csv",)),
        ("empty", "police.csv", b"", ("police.csv",)),
        (
            "ragged",
            "police.csv",
            (sub + "police,2021-Q1,POL-9,North\n").encode(),
            ("police.csv", "row 5"),
        ),
    ]
    for name, fname, data, names in raw_files:

        def build(d: Path, fname: str = fname, data: bytes = data) -> list[str]:
            return ["submissions", "check", str(_write(d / fname, data))]

        yield Case("submissions-raw", name, build, names)

    def directory(d: Path) -> list[str]:
        (d / "sub.csv").mkdir()
        return ["submissions", "check", str(d / "sub.csv")]

    def missing(d: Path) -> list[str]:
        return ["submissions", "check", str(d / "gone.csv")]

    def reg_missing(d: Path) -> list[str]:
        f = _write(d / "police_2021-Q1.csv", sub)
        return ["submissions", "check", str(f), "--registry", str(d / "noreg.csv")]

    def reg_dir(d: Path) -> list[str]:
        f = _write(d / "police_2021-Q1.csv", sub)
        (d / "regdir").mkdir()
        return ["submissions", "check", str(f), "--registry", str(d / "regdir")]

    def reg_bad(d: Path) -> list[str]:
        f = _write(d / "police_2021-Q1.csv", sub)
        reg = _write(d / "registry.csv", _registry_text().replace("quarterly", "sometimes", 1))
        return ["submissions", "check", str(f), "--registry", str(reg)]

    def reg_binary(d: Path) -> list[str]:
        f = _write(d / "police_2021-Q1.csv", sub)
        reg = _write(d / "registry.csv", bytes(range(256)))
        return ["submissions", "check", str(f), "--registry", str(reg)]

    def reg_no_column(d: Path) -> list[str]:
        f = _write(d / "police_2021-Q1.csv", sub)
        reg = _write(d / "registry.csv", "provider,frequency\npolice,quarterly\n")
        return ["submissions", "check", str(f), "--registry", str(reg)]

    yield Case("submissions-raw", "directory", directory, ("sub.csv",))
    yield Case("submissions-raw", "missing", missing, ("gone.csv",))
    yield Case("registry", "missing", reg_missing, ("noreg.csv",))
    yield Case("registry", "directory", reg_dir, ("regdir",))
    yield Case("registry", "bad-frequency", reg_bad, ("registry.csv", "row 2", "frequency"))
    yield Case("registry", "binary", reg_binary, ("registry.csv",))
    yield Case("registry", "missing-columns", reg_no_column, ("registry.csv",))


def _key_cases() -> Iterator[Case]:
    keys: list[tuple[str, bytes | None, tuple[str, ...]]] = [
        ("second-line", (KEY + "\n# rotated\n").encode(), ("linkage.key", "line")),
        ("second-key", (KEY + "\n" + KEY[::-1] + "\n").encode(), ("linkage.key", "line")),
        ("empty", b"", ("linkage.key",)),
        ("blank-lines", b"\n\n\n", ("linkage.key",)),
        ("short", b"abc\n", ("linkage.key",)),
        ("binary", bytes(range(256)), ("linkage.key",)),
        ("latin1", ("clé-" + KEY).encode("latin-1"), ("linkage.key",)),
        ("missing", None, ("linkage.key",)),
        ("directory", b"dir", ("linkage.key",)),
    ]
    for name, data, names in keys:

        def build(d: Path, data: bytes | None = data, name: str = name) -> list[str]:
            f = _write(d / "police_2021-Q1.csv", SUBMISSION)
            key = d / "linkage.key"
            if name == "directory":
                key.mkdir()
            elif data is not None:
                _write(key, data)
            return [
                "submissions",
                "pseudonymise",
                str(f),
                str(d / "out.csv"),
                "--key-file",
                str(key),
            ]

        yield Case("key-file", name, build, names)

    def env_empty(d: Path) -> list[str]:
        f = _write(d / "police_2021-Q1.csv", SUBMISSION)
        return [
            "submissions",
            "pseudonymise",
            str(f),
            str(d / "out.csv"),
            "--key-env",
            "FL_FUZZ_EMPTY_KEY",
        ]

    yield Case(
        "key-file", "env-empty", env_empty, ("FL_FUZZ_EMPTY_KEY",), env={"FL_FUZZ_EMPTY_KEY": ""}
    )

    def bad_input(d: Path) -> list[str]:
        f = _write(d / "police_2021-Q1.csv", _set(SUBMISSION, 2, "nationality", "XXX"))
        _write(d / "linkage.key", KEY)
        return [
            "submissions",
            "pseudonymise",
            str(f),
            str(d / "out.csv"),
            "--key-file",
            str(d / "linkage.key"),
        ]

    yield Case("key-file", "bad-submission", bad_input, ("police_2021-Q1.csv", "row 2"))


def _link_dir(d: Path) -> None:
    """A small linkage folder: registry, key and two providers' first rows."""
    _write(d / "registry.csv", _registry_text())
    _write(d / "linkage.key", KEY + "\n")
    for name in ("police_2021-Q1.csv", "gendarmerie_2021-Q1.csv"):
        src = (COUNTRY / "submissions" / name).read_text(encoding="utf-8").split("\n")
        _write(d / "submissions" / name, "\n".join(src[:6]) + "\n")


LINK_TOML = """[linkage]
submissions = ["submissions/*.csv"]
registry = "registry.csv"
key_file = "linkage.key"
strata = ["region", "year"]
threshold = 0.9
thresholds = [0.5, 0.9]
output = "out"
as_of = "2024-02-15"
"""


def _link_cases() -> Iterator[Case]:
    def sub(old: str, new: str) -> str:
        assert old in LINK_TOML, old
        return LINK_TOML.replace(old, new)

    tomls: list[tuple[str, str | bytes, tuple[str, ...]]] = [
        ("as-of-yesterday", sub('"2024-02-15"', '"yesterday"'), ("as_of", "yesterday")),
        ("as-of-number", sub('"2024-02-15"', "20240215"), ("as_of",)),
        ("thresholds-1.5-a", sub("[0.5, 0.9]", '[1.5, "a"]'), ("thresholds",)),
        ("thresholds-empty", sub("[0.5, 0.9]", "[]"), ("thresholds",)),
        ("thresholds-not-list", sub("[0.5, 0.9]", "0.5"), ("thresholds",)),
        ("threshold-2", sub("threshold = 0.9", "threshold = 2"), ("threshold",)),
        ("threshold-text", sub("threshold = 0.9", 'threshold = "high"'), ("threshold",)),
        ("threshold-nan", sub("threshold = 0.9", "threshold = nan"), ("threshold",)),
        ("registry-missing", sub('"registry.csv"', '"nope.csv"'), ("nope.csv",)),
        ("registry-directory", sub('"registry.csv"', '"submissions"'), ("submissions",)),
        ("no-submissions-match", sub('"submissions/*.csv"', '"nothing/*.csv"'), ("nothing/*.csv",)),
        ("submissions-not-list", sub('["submissions/*.csv"]', "3"), ("submissions",)),
        ("unknown-key", LINK_TOML + "colour = 'blue'\n", ("colour",)),
        ("key-file-missing", sub('"linkage.key"', '"gone.key"'), ("gone.key",)),
        ("strata-not-list", sub('["region", "year"]', "3"), ("strata",)),
        ("strata-unknown", sub('["region", "year"]', '["planet"]'), ("planet",)),
        ("suppression-0", LINK_TOML + "suppression_threshold = 0\n", ("suppression_threshold",)),
        ("no-linkage-table", "[linking]\nx = 1\n", ("linkage",)),
        ("bad-toml", LINK_TOML + "this is = = not toml\n", ()),
        ("latin1-toml", (LINK_TOML + "# é\n").encode("latin-1"), ()),
        ("utf16-toml", LINK_TOML.encode("utf-16"), ()),
        ("binary-toml", bytes(range(256)), ()),
        ("method-unknown", LINK_TOML + 'method = "telepathy"\n', ("method",)),
        ("seed-text", LINK_TOML + 'seed = "x"\n', ("seed",)),
    ]
    for name, text, names in tomls:

        def build(d: Path, text: str | bytes = text) -> list[str]:
            _link_dir(d)
            return ["link", str(_write(d / "link.toml", text))]

        yield Case("link-toml", name, build, ("link.toml", *names))

    def key_second_line(d: Path) -> list[str]:
        _link_dir(d)
        _write(d / "linkage.key", KEY + "\n# rotated\n")
        return ["link", str(_write(d / "link.toml", LINK_TOML))]

    def registry_bad(d: Path) -> list[str]:
        _link_dir(d)
        _write(d / "registry.csv", _registry_text().replace("quarterly", "sometimes", 1))
        return ["link", str(_write(d / "link.toml", LINK_TOML))]

    def registry_latin1(d: Path) -> list[str]:
        _link_dir(d)
        _write(d / "registry.csv", b"provider,entity_type\n\xe9\xff\xfe\x00\x01,x\n")
        return ["link", str(_write(d / "link.toml", LINK_TOML))]

    def config_dir(d: Path) -> list[str]:
        (d / "link.toml").mkdir()
        return ["link", str(d / "link.toml")]

    def config_missing(d: Path) -> list[str]:
        return ["link", str(d / "link.toml")]

    def pseudonymous(d: Path, fingerprint: str = "0123456789abcdef") -> None:
        src = (COUNTRY / "submissions" / "iom_2022-Q4.csv").read_text(encoding="utf-8")
        rows = _lines(src)[:6]
        if "key_fingerprint" not in rows[0]:  # files pseudonymised before fingerprints
            rows = [[*rows[0], "key_fingerprint"]] + [[*r, ""] for r in rows[1:]]
        at = rows[0].index("key_fingerprint")
        rows = [rows[0]] + [[*r[:at], fingerprint, *r[at + 1 :]] for r in rows[1:]]
        _write(d / "submissions" / "iom_2022-Q4.csv", _join(rows))

    def fingerprint_mismatch(d: Path) -> list[str]:
        _link_dir(d)
        pseudonymous(d)
        return ["link", str(_write(d / "link.toml", LINK_TOML))]

    def registry_fingerprint_mismatch(d: Path) -> list[str]:
        _link_dir(d)
        pseudonymous(d, fingerprint="")
        reg = _registry_text().split("\n")
        reg[0] += ",key_fingerprint"
        reg[1:] = [r + ",fedcba9876543210" if r else r for r in reg[1:]]
        _write(d / "registry.csv", "\n".join(reg))
        return ["link", str(_write(d / "link.toml", LINK_TOML))]

    yield Case(
        "link-toml",
        "key-fingerprint-mismatch",
        fingerprint_mismatch,
        ("iom_2022-Q4.csv", "provider iom"),
    )
    yield Case(
        "link-toml",
        "registry-fingerprint-mismatch",
        registry_fingerprint_mismatch,
        ("provider iom", "registry"),
    )
    yield Case("link-toml", "key-second-line", key_second_line, ("linkage.key", "line"))
    yield Case("link-toml", "registry-bad-frequency", registry_bad, ("registry.csv", "row 2"))
    yield Case("link-toml", "registry-binary", registry_latin1, ("registry.csv",))
    yield Case("link-toml", "config-directory", config_dir, ("link.toml",))
    yield Case("link-toml", "config-missing", config_missing, ("link.toml",))


RUN_TOML = """[run]
title = "fuzz"
seed = 1
out = "out"

[input]
capture_histories = "histories.csv"
strata = ["region"]
population = "population.csv"
per = 100000

[estimation]
methods = ["independence"]

[sensitivity]
leave_one_out = false
merge = [["A", "B"]]

[disclosure]
threshold = 5

[executor]
workers = 1
"""

POPULATION = "region,population\nNorth,100000\nSouth,200000\n"


def _histories_by_region() -> str:
    rows = ["person,region,A,B,C"]
    for i in range(1, 81):
        region = "North" if i % 2 else "South"
        a, b, c = int(i % 3 != 0), int(i % 4 != 0), int(i % 5 < 3)
        rows.append(f"p{i},{region},{a},{b},{c if a or b else 1}")
    return "\n".join(rows) + "\n"


def _run_cases() -> Iterator[Case]:
    def sub(old: str, new: str) -> str:
        assert old in RUN_TOML, old
        return RUN_TOML.replace(old, new)

    tomls: list[tuple[str, str | bytes, tuple[str, ...]]] = [
        (
            "n-boot-minus-1",
            sub(
                'methods = ["independence"]',
                'methods = ["independence"]\ninterval = "bootstrap"\nn_boot = -1',
            ),
            ("n_boot",),
        ),
        (
            "n-boot-0",
            sub('methods = ["independence"]', 'methods = ["independence"]\nn_boot = 0'),
            ("n_boot",),
        ),
        (
            "chains-0",
            sub('methods = ["independence"]', 'methods = ["lcmcr"]\nchains = 0'),
            ("chains",),
        ),
        (
            "draws-0",
            sub('methods = ["independence"]', 'methods = ["lcmcr"]\ndraws = 0'),
            ("draws",),
        ),
        ("per-0", sub("per = 100000", "per = 0"), ("per",)),
        ("per-negative", sub("per = 100000", "per = -100"), ("per",)),
        ("per-float", sub("per = 100000", "per = 1e5"), ("per",)),
        ("threshold-0", sub("threshold = 5", "threshold = 0"), ("threshold",)),
        ("threshold-text", sub("threshold = 5", 'threshold = "five"'), ("threshold",)),
        ("merge-unknown-list", sub('[["A", "B"]]', '[["A", "army"]]'), ("merge", "army")),
        ("merge-one-list", sub('[["A", "B"]]', '[["A"]]'), ("merge",)),
        ("merge-not-list", sub('[["A", "B"]]', '"A+B"'), ("merge",)),
        ("method-unknown", sub('["independence"]', '["astrology"]'), ("astrology",)),
        ("methods-empty", sub('["independence"]', "[]"), ("methods",)),
        (
            "level-2",
            sub('methods = ["independence"]', 'methods = ["independence"]\nlevel = 2.0'),
            ("level",),
        ),
        (
            "interval-unknown",
            sub('methods = ["independence"]', 'methods = ["independence"]\ninterval = "guess"'),
            ("interval",),
        ),
        (
            "method-option-bad",
            sub(
                'methods = ["independence"]',
                'methods = ["stepwise"]\n[estimation.stepwise]\npthresh = 5.0',
            ),
            ("pthresh",),
        ),
        (
            "method-option-unknown",
            sub(
                'methods = ["independence"]',
                'methods = ["stepwise"]\n[estimation.stepwise]\nfoo = 1',
            ),
            ("foo",),
        ),
        (
            "min-lists-0",
            sub('methods = ["independence"]', 'methods = ["independence"]\nmin_lists = 0'),
            ("min_lists",),
        ),
        (
            "min-per-list-negative",
            sub('methods = ["independence"]', 'methods = ["independence"]\nmin_per_list = -1'),
            ("min_per_list",),
        ),
        (
            "top-models-negative",
            sub("leave_one_out = false", "leave_one_out = false\ntop_models = -1"),
            ("top_models",),
        ),
        ("workers-0", sub("workers = 1", "workers = 0"), ("workers",)),
        ("seed-negative", sub("seed = 1", "seed = -1"), ("seed",)),
        ("seed-text", sub("seed = 1", 'seed = "one"'), ("seed",)),
        ("strata-unknown", sub('strata = ["region"]', 'strata = ["planet"]'), ("planet",)),
        ("strata-not-list", sub('strata = ["region"]', 'strata = "region"'), ("strata",)),
        ("unknown-section", RUN_TOML + "[extras]\nx = 1\n", ("extras",)),
        ("unknown-key", sub('title = "fuzz"', 'title = "fuzz"\ncolour = "red"'), ("colour",)),
        ("histories-missing", sub('"histories.csv"', '"gone.csv"'), ("gone.csv",)),
        ("histories-directory", sub('"histories.csv"', '"adir"'), ("adir", "folder")),
        ("population-missing", sub('"population.csv"', '"nopop.csv"'), ("nopop.csv",)),
        ("population-directory", sub('"population.csv"', '"adir"'), ("adir", "folder")),
        ("truth-missing", RUN_TOML + '[report]\ntruth = "notruth.csv"\n', ("notruth.csv",)),
        ("bad-toml", RUN_TOML + "= broken\n", ()),
        ("latin1-toml", (RUN_TOML + "# é\n").encode("latin-1"), ()),
        ("utf16-toml", RUN_TOML.encode("utf-16"), ()),
        ("binary-toml", bytes(range(256)), ()),
        ("scheduler-garbage", sub("workers = 1", 'scheduler = "not a url"'), ("scheduler",)),
        ("cache-number", sub('out = "out"', 'out = "out"\ncache = 3'), ("cache",)),
        (
            "cache-inside-out",
            sub('out = "out"', 'out = "out"\ncache = "out/fits"'),
            ("[run] cache", "out"),
        ),
    ]
    pops: list[tuple[str, str | bytes, tuple[str, ...]]] = [
        ("population-text", "region,population\nNorth,lots\nSouth,200000\n", ("row 2",)),
        ("population-zero", "region,population\nNorth,0\nSouth,200000\n", ("row 2",)),
        ("population-negative", "region,population\nNorth,100000\nSouth,-5\n", ("row 3",)),
        ("population-empty-cell", "region,population\nNorth,\nSouth,200000\n", ("row 2",)),
        ("population-missing-row", "region,population\nNorth,100000\n", ("South",)),
        ("population-misspelt", "region,population\nNorth,100000\nSuoth,200000\n", ("South",)),
        ("population-duplicate", "region,population\nNorth,1\nNorth,2\nSouth,3\n", ("row 3",)),
        ("population-no-column", "region,people\nNorth,100000\nSouth,200000\n", ("population",)),
        ("population-no-stratum", "population\n300000\n", ("region",)),
        ("population-fraction", "region,population\nNorth,1000.5\nSouth,200000\n", ("row 2",)),
        ("population-inf", "region,population\nNorth,inf\nSouth,200000\n", ("row 2",)),
        ("population-binary", bytes(range(256)) * 2, ()),
        (
            "population-latin1-bad",
            "region,population\nNorth,é\nSouth,2\n".encode("latin-1"),
            ("row 2",),
        ),
    ]
    hists: list[tuple[str, str | bytes, tuple[str, ...]]] = [
        ("histories-ragged", _histories_by_region().replace("p7,", "p7,x,"), ("row",)),
        ("histories-list-2", _set(_histories_by_region(), 10, "A", "2"), ("row 10", "A")),
        ("histories-no-region", _histories_by_region().replace("region", "area"), ("region",)),
        ("histories-binary", bytes(range(256)) * 3, ()),
        ("histories-empty", "", ()),
    ]

    def base(
        d: Path,
        toml: str | bytes = RUN_TOML,
        pop: str | bytes = POPULATION,
        hist: str | bytes | None = None,
    ) -> list[str]:
        _write(d / "histories.csv", _histories_by_region() if hist is None else hist)
        _write(d / "population.csv", pop)
        (d / "adir").mkdir(exist_ok=True)
        return ["run", str(_write(d / "run.toml", toml)), "--no-progress"]

    for name, text, names in tomls:
        where = names if "folder" in names else ("run.toml", *names)
        yield Case("run-toml", name, lambda d, text=text: base(d, toml=text), where)
    for name, text, names in pops:
        yield Case(
            "population", name, lambda d, text=text: base(d, pop=text), ("population.csv", *names)
        )
    for name, text, names in hists:
        yield Case(
            "histories", name, lambda d, text=text: base(d, hist=text), ("histories.csv", *names)
        )

    def scheduler_unreachable(d: Path) -> list[str]:
        # a loopback port that nothing listens on: exit 2 before any file is written
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return base(d, toml=sub("workers = 1", f'scheduler = "tcp://127.0.0.1:{port}"'))

    yield Case(
        "run-toml",
        "scheduler-unreachable",
        scheduler_unreachable,
        ("run.toml", "[executor] scheduler", "tcp://127.0.0.1:"),
    )

    def config_dir(d: Path) -> list[str]:
        (d / "run.toml").mkdir()
        return ["run", str(d / "run.toml")]

    yield Case("run-toml", "config-directory", config_dir, ("run.toml",))


MAPPING = (SURVEY / "mapping.toml").read_text(encoding="utf-8") if SURVEY.exists() else ""
DESIGN = (SURVEY / "design.toml").read_text(encoding="utf-8") if SURVEY.exists() else ""


def _survey_head(n: int = 40) -> str:
    lines = (SURVEY / "survey.csv").read_text(encoding="utf-8").split("\n")
    return "\n".join(lines[: n + 1]) + "\n"


def _survey_cases() -> Iterator[Case]:
    survey = _survey_head() if SURVEY.exists() else ""

    def score(
        d: Path,
        data: str | bytes | None = None,
        mapping: str | bytes | None = None,
        extra: tuple[str, ...] = (),
    ) -> list[str]:
        f = _write(d / "survey.csv", survey if data is None else data)
        m = _write(d / "mapping.toml", MAPPING if mapping is None else mapping)
        return [
            "indicators",
            "score",
            str(f),
            "--mapping",
            str(m),
            "--out",
            str(d / "scored.csv"),
            *extra,
        ]

    data_cases: list[tuple[str, str | bytes, tuple[str, ...]]] = [
        ("answer-maybe", _set(survey, 3, "q01", "maybe"), ("row 3", "q01")),
        ("answer-7", _set(survey, 4, "q02", "7"), ("row 4", "q02")),
        ("answer-negative", _set(survey, 4, "q02", "-1"), ("row 4", "q02")),
        ("duplicate-resp-id", _set(survey, 5, "resp_id", "R00000"), ("row 5", "resp_id")),
        ("empty-resp-id", _set(survey, 5, "resp_id", ""), ("row 5", "resp_id")),
        ("missing-variable", survey.replace(",q01,", ",qq01,", 1), ("q01",)),
        ("missing-id-column", survey.replace("resp_id,", "rid,", 1), ("resp_id",)),
        ("binary", bytes(range(256)) * 3, ()),
        ("empty", "", ()),
        ("ragged", survey + "R99999,East\n", ("row 42",)),
    ]
    for name, text, names in data_cases:
        yield Case("survey", name, lambda d, text=text: score(d, data=text), ("survey.csv", *names))
    map_cases: list[tuple[str, str | bytes, tuple[str, ...]]] = [
        ("unknown-indicator", MAPPING.replace('"HTS.D1.INV.02"', '"HTS.NOPE"'), ("HTS.NOPE",)),
        ("framework-unknown", MAPPING.replace('"ilo2012"', '"ilo1066"'), ("ilo1066",)),
        ("codes-overlap", MAPPING.replace("no = [2]", "no = [1]"), ("codes",)),
        ("bad-toml", MAPPING + "[[[x\n", ()),
        ("latin1", (MAPPING + "# é\n").encode("latin-1"), ()),
        ("binary", bytes(range(256)), ()),
        (
            "id-column-unknown",
            MAPPING.replace('id_column = "resp_id"', 'id_column = "zzz"'),
            ("survey.csv", "zzz"),
        ),
    ]
    for name, text, names in map_cases:
        where = names if names and names[0].endswith(".csv") else ("mapping.toml", *names)
        yield Case("mapping", name, lambda d, text=text: score(d, mapping=text), where)

    def score_missing_opt(d: Path) -> list[str]:
        return score(d, extra=("--missing", "sometimes"))

    yield Case("survey", "missing-option-unknown", score_missing_opt, ("sometimes",))

    def directory(d: Path) -> list[str]:
        args = score(d)
        (d / "sdir").mkdir()
        args[2] = str(d / "sdir")
        return args

    yield Case("survey", "directory", directory, ("sdir",))

    scored = "resp_id,region,ea,person,ea_total,adults_in_ea,weight,forced_labour\n" + "".join(
        f"R{i:05d},{'East' if i % 2 else 'West'},E{i % 6},{i},300,100,30.5,"
        f"{'yes' if i % 7 == 0 else 'no'}\n"
        for i in range(60)
    )

    def prevalence(
        d: Path,
        data: str | bytes | None = None,
        design: str | bytes | None = None,
        extra: tuple[str, ...] = (),
    ) -> list[str]:
        f = _write(d / "scored.csv", scored if data is None else data)
        g = _write(d / "design.toml", DESIGN if design is None else design)
        return [
            "indicators",
            "prevalence",
            str(f),
            "--design",
            str(g),
            "--outcome",
            "forced_labour",
            *extra,
        ]

    prev_data: list[tuple[str, str, tuple[str, ...]]] = [
        ("outcome-maybe", _set(scored, 4, "forced_labour", "maybe"), ("row 4", "forced_labour")),
        ("duplicate-resp-id", _set(scored, 6, "resp_id", "R00000"), ("row 6", "resp_id")),
        ("weight-negative", _set(scored, 3, "weight", "-2"), ("row 3", "weight")),
        ("weight-text", _set(scored, 3, "weight", "heavy"), ("row 3", "weight")),
        ("weight-empty", _set(scored, 3, "weight", ""), ("row 3", "weight")),
        ("fpc-below-sample", _set(scored, 3, "ea_total", "0"), ("row 3", "ea_total")),
        ("no-weight-column", scored.replace(",weight,", ",w,"), ("weight",)),
        ("outcome-missing", scored.replace("forced_labour", "fl"), ("forced_labour",)),
    ]
    for name, text, names in prev_data:
        yield Case(
            "scored", name, lambda d, text=text: prevalence(d, data=text), ("scored.csv", *names)
        )
    designs: list[tuple[str, str | bytes, tuple[str, ...]]] = [
        (
            "weights-unknown",
            DESIGN.replace('weights = "weight"', 'weights = "wt"'),
            ("scored.csv", "wt"),
        ),
        ("ids-not-list", DESIGN.replace('ids = ["ea", "person"]', "ids = 3"), ("ids",)),
        ("unknown-key", DESIGN + "colour = 1\n", ("colour",)),
        ("bad-toml", DESIGN + "==\n", ()),
        ("binary", bytes(range(256)), ()),
        ("no-design-table", "[plan]\nweights = 'weight'\n", ("design",)),
    ]
    for name, text, names in designs:
        where = names if names and names[0].endswith(".csv") else ("design.toml", *names)
        yield Case("design", name, lambda d, text=text: prevalence(d, design=text), where)
    opts: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
        ("level-2", ("--level", "2"), ("level",)),
        ("level-0", ("--level", "0"), ("level",)),
        ("min-n-negative", ("--min-n", "-1"), ("min-n",)),
        ("min-clusters-0", ("--min-clusters", "0"), ("min-clusters",)),
        ("ci-method-unknown", ("--ci-method", "vibes"), ("vibes",)),
        ("missing-unknown", ("--missing", "sometimes"), ("sometimes",)),
        ("by-unknown", ("--by", "planet"), ("planet",)),
    ]
    for name, extra, names in opts:
        yield Case(
            "cli-options",
            f"prevalence-{name}",
            lambda d, extra=extra: prevalence(d, extra=extra),
            names,
        )


def cases() -> list[Case]:
    """Every case of the corpus."""
    return [
        *_capture_cases(),
        *_option_cases(),
        *_submission_cases(),
        *_key_cases(),
        *_link_cases(),
        *_run_cases(),
        *_survey_cases(),
    ]


# -- running -------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


@contextlib.contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_case(case: Case, folder: Path) -> Outcome:
    """Build ``case`` in ``folder`` (empty), run it and classify the outcome."""
    from fl_estimate.cli import main

    args = case.build(folder)
    before = _snapshot(folder)
    err, out = io.StringIO(), io.StringIO()
    code: int | None
    try:
        with _environ(case.env), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(args)
    except BaseException as exc:  # a crash is what we classify
        return Outcome(
            None,
            f"{type(exc).__name__}: {exc}",
            out.getvalue(),
            "crash",
            "exception escaped main()",
        )
    stderr = err.getvalue()
    after = _snapshot(folder)
    if code == 1 or "Traceback" in stderr:
        return Outcome(code, stderr, out.getvalue(), "crash", "exit 1 or traceback")
    if code != 2:
        return Outcome(code, stderr, out.getvalue(), "silent", f"exit {code}")
    if after != before:
        changed = sorted(set(after) ^ set(before)) or sorted(
            k for k in after if after[k] != before.get(k)
        )
        return Outcome(code, stderr, out.getvalue(), "silent", f"files changed: {changed}")
    missing = [n for n in case.names if n.lower() not in stderr.lower()]
    if missing:
        return Outcome(code, stderr, out.getvalue(), "silent", f"stderr does not name {missing}")
    return Outcome(code, stderr, out.getvalue(), "clean", "")


def run_in_tmp(case: Case, base: Path) -> Outcome:
    folder = base / case.id.replace(":", "__")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return run_case(case, folder)
