from __future__ import annotations

from pathlib import Path

from fl_estimate.cli import main


def test_check_accepts_good_files(country_dir: Path, capsys) -> None:
    code = main(["submissions", "check", str(country_dir / "submissions" / "police_2021-Q1.csv")])
    out = capsys.readouterr().out
    assert code == 0
    assert "accepted" in out and "1 accepted, 0 rejected" in out


def test_check_rejects_with_report_and_exit_2(country_dir: Path, capsys) -> None:
    sub = country_dir / "submissions"
    code = main(
        [
            "submissions", "check", "--registry", str(country_dir / "registry.csv"),
            str(sub / "police_2022-Q3.csv"), str(sub / "police_2022-Q3_v2.csv"),
            str(country_dir / "missing.csv"),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.out + captured.err
    assert "police_2022-Q3.csv, row 7, column 'region'" in captured.out
    assert "missing.csv: file not found" in captured.out
    # the error line, on stderr, names the rejected files and the first problems' rows
    assert captured.err.startswith("fl-estimate: error: 2 of 3 file(s) rejected")
    assert "police_2022-Q3.csv, row 3, column 'sex'" in captured.err
    assert "1 accepted, 2 rejected" in captured.out


def test_check_json(country_dir: Path, capsys) -> None:
    import json

    code = main(
        ["submissions", "check", "--json", str(country_dir / "examples" / "example_filled.csv")]
    )
    assert code == 0
    (rep,) = json.loads(capsys.readouterr().out)
    assert rep["accepted"] and rep["provider"] == "police"


def test_link_bad_config_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "link.toml"
    cfg.write_text('[linkage]\nsubmissions = "nothing/*.csv"\nthreshold = 2\ncolour = "red"\n')
    code = main(["link", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "threshold" in err and "colour" in err


def test_link_runs_deterministic_on_a_subset(country_dir: Path, tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "link.toml"
    sub = (country_dir / "submissions").as_posix()
    cfg.write_text(
        "[linkage]\n"
        f'submissions = ["{sub}/police_2021-*.csv", "{sub}/iom_2021-*.csv"]\n'
        f'key_file = "{(country_dir / "linkage.key").as_posix()}"\n'
        'method = "deterministic"\nstrata = ["region"]\nthresholds = [0.9]\n'
    )
    code = main(["link", str(cfg), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (tmp_path / "out.internal" / "capture_histories.csv").is_file()
    assert not (tmp_path / "out" / "capture_histories.csv").exists()  # internal, not published
    assert "wrote" in out


def test_pseudonymise_command(country_dir: Path, tmp_path: Path, capsys) -> None:
    src = country_dir / "submissions" / "police_2021-Q1.csv"
    out = tmp_path / "keys.csv"
    key = str(country_dir / "linkage.key")
    assert main(["submissions", "pseudonymise", str(src), str(out), "--key-file", key]) == 0
    text = out.read_text()
    assert "given_name" not in text.splitlines()[0] and "key_bloom" in text
    # the keyed file validates and links like the clear one
    assert main(["submissions", "check", str(out)]) == 0
    bad = country_dir / "submissions" / "police_2022-Q3.csv"
    assert (
        main(["submissions", "pseudonymise", str(bad), str(tmp_path / "x.csv"), "--key-file", key])
        == 2
    )
    assert not (tmp_path / "x.csv").exists()
    capsys.readouterr()
