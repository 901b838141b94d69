"""The ``augbench run`` command end to end: a tiny run, the table, the database, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from augbench.cli import main


def _rows(db: Path | str) -> list[tuple[str, str, int, float]]:
    """Finished runs; ``db`` is a SQLite path or any SQLAlchemy URL."""
    url = db if isinstance(db, str) and "://" in db else f"sqlite:///{db}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT run_key, method, seed, finished_at FROM runs ORDER BY finished_at"))
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def _finished_so_far(db: str) -> int:
    """Rows in ``runs``, 0 while the database or its schema does not exist yet."""
    if db.startswith("sqlite:///") and not Path(db[len("sqlite:///"):]).exists():
        return 0
    try:
        return len(_rows(db))
    except (OperationalError, ProgrammingError):
        return 0


def test_tiny_run_prints_table_and_stores_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    status = main(["run", "--methods", "baseline,erasing", "--seeds", "1", "--epochs", "1", "--train-size", "100",
                   "--db", f"sqlite:///{db}", "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0
    assert "baseline" in out and "erasing" in out and "mean +- 95% CI" in out
    rows = _rows(db)
    assert sorted(r[1] for r in rows) == ["baseline", "erasing"]
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        names = {name for (name,) in connection.execute(text("SELECT DISTINCT name FROM run_metrics"))}
        accuracy = connection.execute(text("SELECT value FROM run_metrics WHERE name = 'test_accuracy'")).fetchall()
        checkpoints = connection.execute(text("SELECT COUNT(*) FROM checkpoints")).scalar()
    engine.dispose()
    assert {"test_accuracy", "test_nll", "wall_time_s", "augmentation_time_fraction"} <= names
    assert all(0.0 <= value <= 1.0 for (value,) in accuracy)
    assert checkpoints == 2 and len(list((tmp_path / "cache").glob("*.pt"))) == 2
    assert "P(best)" in out


def test_rerun_skips_finished_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "runs.db")  # a plain path is a SQLite file
    args = ["run", "--augs", "baseline", "--seeds", "2", "--epochs", "1", "--train-size", "100", "--db", db, "--no-cache",
            "--no-progress"]
    assert main(args) == 0
    first = _rows(Path(db))
    assert main(args) == 0
    assert _rows(Path(db)) == first  # nothing retrained, nothing rewritten
    assert "95% CI" in capsys.readouterr().out


def test_unknown_augmentation_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["run", "--methods", "afine", "--db", str(tmp_path / "x.db"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "unknown method 'afine'" in err and "'affine'" in err
    assert not (tmp_path / "x.db").exists()  # refused before the database or any training


def test_killed_run_loses_nothing_finished(db_url: str) -> None:
    """SIGKILL after the first finished run; the rerun completes without duplicates or losses."""
    db = db_url
    command = [sys.executable, "-m", "augbench.cli", "run", "--augs", "baseline,affine", "--seeds", "3",
               "--epochs", "25", "--train-size", "200", "--db", db, "--no-cache", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if _finished_so_far(db):
                break
            if process.poll() is not None:
                pytest.fail("the run ended before the test could interrupt it")
            time.sleep(0.02)
        else:
            pytest.fail("no run finished within 120 s")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    before = _rows(db)
    assert 1 <= len(before) < 6, "the kill must land mid-experiment for this test to mean anything"
    engine = create_engine(db)
    try:
        with engine.connect() as connection:  # the database is consistent after SIGKILL
            if db.startswith("sqlite"):
                assert connection.execute(text("PRAGMA integrity_check")).fetchone() == ("ok",)
            orphans = connection.execute(
                text("SELECT COUNT(*) FROM run_metrics WHERE run_key NOT IN (SELECT run_key FROM runs)")
            ).fetchone()
            assert tuple(orphans) == (0,)
    finally:
        engine.dispose()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    after = _rows(db)
    assert len(after) == 6 and len({r[0] for r in after}) == 6
    assert set(before) <= set(after)  # finished rows survive untouched
    assert sorted((r[1], r[2]) for r in after) == sorted((a, s) for a in ("affine", "baseline") for s in range(3))


def test_make_run_config_is_the_default_run() -> None:
    """`make run` runs configs/digits.yaml; plain `augbench run` must run the same experiment."""
    from augbench.bench.experiment import load_experiment, parse_experiment
    from augbench.cli import DEFAULT_RUN, _run_experiment, build_parser

    config = Path(__file__).resolve().parents[2] / "configs" / "digits.yaml"
    from_file = load_experiment(config).runs()
    assert from_file == parse_experiment(DEFAULT_RUN).runs()
    assert _run_experiment(build_parser().parse_args(["run"])).runs() == from_file
    overridden = _run_experiment(build_parser().parse_args(["run", "--config", str(config), "--epochs", "2", "--augs", "mixup"])).runs()
    assert {(c.label, c.epochs) for c in overridden} == {("mixup", 2)} and len(overridden) == 3


def test_time_series_dataset_runs_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`augbench run --dataset gunpoint --methods baseline`: the 1-D CNN on a UCR problem, sizes of its own."""
    if not (Path(os.environ["AUGBENCH_DATA"]) / "ucr_uea" / "GunPoint").is_dir():
        pytest.skip("GunPoint not found under $AUGBENCH_DATA/ucr_uea")
    status = main(["run", "--dataset", "gunpoint", "--methods", "baseline", "--seeds", "1", "--epochs", "2",
                   "--db", str(tmp_path / "ts.db"), "--no-cache", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0 and "gunpoint/timeseries_cnn, all training samples" in out and "baseline" in out


def test_list_methods_is_what_run_methods_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from augbench.methods.spec import expand_method, method_names

    assert main(["list", "methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == method_names()
    assert "affine  (preset of supervised)" in lines and "fixmatch  (method)" in lines
    for name in method_names():
        expand_method(name)  # every listed name is accepted by --methods


def test_list_ops_of_a_modality(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "ops", "--modality", "image"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Rotate  (0 -> 30 (random sign))" in lines and "Equalize  (no magnitude)" in lines
    assert main(["list", "ops", "--modality", "smell"]) == 2
    assert "unknown modality 'smell'" in capsys.readouterr().err
    assert main(["list", "models", "--modality", "image"]) == 2
    assert "--modality goes with `augbench list ops`" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "bench"])
def test_missing_data_fails_once_before_any_training(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "x.yaml"
    config.write_text(f"datasets: [mnist]\nmethods: [baseline, affine]\nseeds: 2\ndata_root: {tmp_path / 'nowhere'}\n")
    argv = ["run", "--config", str(config)] if command == "run" else ["bench", str(config)]
    status = main([*argv, "--db", str(tmp_path / "r.db"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "nowhere" in err
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("command", ["run", "bench"])
@pytest.mark.parametrize(
    ("methods", "extra", "expected"),
    [
        ("[baseline, rrc32-hflip0.5]", "", "rrc8 instead of rrc32"),  # a policy of another image size
        ("[baseline, simclr]", "evaluations: [calibration]\n", "simclr trains an encoder"),  # an evaluation it cannot serve
    ],
    ids=["policy-size", "evaluation"],
)
def test_a_run_that_would_fail_is_refused_before_any_training(
    command: str, methods: str, extra: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "x.yaml"
    config.write_text(f"datasets: [digits]\nmethods: {methods}\nseeds: 2\nepochs: 1\ntrain_size: 100\n{extra}")
    argv = ["run", "--config", str(config)] if command == "run" else ["bench", str(config)]
    status = main([*argv, "--db", str(tmp_path / "r.db"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and expected in err, err
    assert not (tmp_path / "r.db").exists()  # the baseline did not train first


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_device_without_cuda_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["run", "--methods", "baseline", "--seeds", "1", "--epochs", "1", "--device", "cuda",
                   "--db", str(tmp_path / "r.db"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "--device cpu" in err, err


def test_report_refuses_a_database_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    status = main(["report", "--db", str(tmp_path / "augbench.bd"), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "does not exist" in err
    assert not (tmp_path / "augbench.bd").exists() and not out.exists()


def _image_folder(root: Path, size: int, per_class: int) -> None:
    import numpy as np
    from PIL import Image

    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            Image.fromarray(np.full((size, size), 40 * index % 256, dtype=np.uint8)).save(root / name / f"{index}.png")


def test_your_own_images_get_a_sized_model_and_a_small_split_warning(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _image_folder(tmp_path / "images", 12, 6)
    status = main(["run", "--dataset", "{type: image_folder, mode: L}", "--data-root", str(tmp_path / "images"),
                   "--train-size", "6", "--methods", "baseline", "--seeds", "1", "--epochs", "1",
                   "--db", str(tmp_path / "r.db"), "--no-progress"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "image_folder/auto" in captured.out
    (warning,) = [line for line in captured.err.splitlines() if line.startswith("augbench: warning:")]
    assert "the test split has only 6 samples" in warning and "16.7 pp" in warning
