"""The HTML/PNG report: grouping, statistics in the table, escaping, plots, a headless-browser render."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from augbench.bench.report import (
    _PLOTS,
    MIN_BIN_SAMPLES,
    Stat,
    average_reliability,
    decision_columns,
    format_stat,
    group_runs,
    section_titles,
    write_report,
)
from augbench.bench.run import RunResult
from augbench.bench.spec import RunSpec
from augbench.bench.stats import mean_ci, paired_difference, probability_best, seeds_for_power
from augbench.bench.store import Store, StoredRun
from augbench.cli import main

INJECTED = '<script>alert("x")</script>'
SEEDS = (0, 1, 2)
# test accuracy per (method, seed): affine is better than the baseline on every seed
ACCURACY = {
    "baseline": {0: 0.81, 1: 0.84, 2: 0.80},
    "affine": {0: 0.86, 1: 0.88, 2: 0.86},
    INJECTED: {0: 0.79, 1: 0.85, 2: 0.82},
}
NLL = {"baseline": 0.52, "affine": 0.41, INJECTED: 0.55}
ENVIRONMENT = {"torch": "2.13.0+cpu", "device": "cpu", "python": "3.11.2"}
EXPECTED_IMAGES = 6  # digits: accuracy, cost, reliability, corruption; cifar10: accuracy, cost
EXPECTED_ROWS = 5  # digits: 3 methods; cifar10: 2


def _reliability(seed: int) -> dict[str, list[float]]:
    return {"confidence": [0.3, 0.6, 0.9], "accuracy": [0.25, 0.5 + 0.1 * seed, float("nan")], "count": [4, 6 + seed, 0]}


def _corruption(accuracy: float) -> dict[str, dict[str, float]]:
    return {name: {str(s): accuracy - 0.1 * s - shift for s in range(1, 6)} for name, shift in (("fog", 0.0), ("noise", 0.05))}


def _spec(method: str, seed: int, epochs: int = 2, dataset: str = "digits", model: str = "harness_cnn",
          evaluations: tuple[str, ...] = ("calibration",)) -> RunSpec:
    """A run spec labelled ``method`` in tables (each label its own real method, so keys differ)."""
    trained = {"baseline": "baseline", "affine": "affine", INJECTED: "erasing", "mixup": "mixup", "a": "rrc", "b": "hflip"}
    return RunSpec.create(dataset=dataset, model=model, method=trained[method], label=method, seed=seed, epochs=epochs,
                          evaluations=evaluations)


def _digits_run(method: str, seed: int) -> RunResult:
    accuracy = ACCURACY[method][seed]
    metrics = {
        "test_accuracy": accuracy,
        "test_nll": NLL[method] + 0.01 * seed,
        "train_images_per_s": 1000.0 * (1 + seed) * (0.5 if method == "affine" else 1.0),
        "wall_time_s": 10.0 + seed,
    }
    artifacts = {}
    if method != INJECTED:
        artifacts = {"reliability": _reliability(seed), "corruption": _corruption(accuracy)}
    spec = _spec(method, seed)
    curves = [("train", 0, "train_loss", 1.0), ("train", 1, "train_loss", 0.5)]
    return RunResult(spec, metrics, curves, environment=ENVIRONMENT, artifacts=artifacts)


def _cifar_run(method: str, seed: int) -> RunResult:
    spec = _spec(method, seed, dataset="cifar10", model="preact_resnet18")
    metrics = {"test_accuracy": 0.6 + 0.01 * seed, "wall_time_s": 100.0 + seed}
    return RunResult(spec, metrics, environment={**ENVIRONMENT, "device": "cuda:0"})


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store: digits with 3 methods x 3 seeds (the baseline saved last), cifar10 with 2 x 2."""
    path = tmp_path_factory.mktemp("db") / "results.db"
    store = Store(str(path))
    for method in ("affine", INJECTED, "baseline"):
        for seed in SEEDS:
            store.save(_digits_run(method, seed))
    for method in ("baseline", "mixup"):
        for seed in (0, 1):
            store.save(_cifar_run(method, seed))
    return path


@pytest.fixture(scope="module")
def report(db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(Store(str(db_path)), tmp_path_factory.mktemp("report"))


def _percent(values: dict[int, float]) -> dict[int, float]:
    return {seed: 100 * value for seed, value in values.items()}


def test_writes_html_and_pngs(report: Path) -> None:
    assert report.name == "report.html" and report.is_file()
    names = sorted(path.name for path in report.parent.glob("*.png"))
    assert names == [
        "00-digits-harness_cnn-accuracy.png", "00-digits-harness_cnn-corruption.png", "00-digits-harness_cnn-cost.png",
        "00-digits-harness_cnn-reliability.png", "01-cifar10-preact_resnet18-accuracy.png", "01-cifar10-preact_resnet18-cost.png",
    ]


def test_html_embeds_every_png_and_references_no_file(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    embedded = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(embedded) == EXPECTED_IMAGES
    on_disk = {path.read_bytes() for path in report.parent.glob("*.png")}
    assert {base64.b64decode(data) for data in embedded} == on_disk
    assert not re.search(r'(src|href)="(?!data:)', text)


def test_table_has_mean_ci_and_paired_difference(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    mean, half = mean_ci(list(_percent(ACCURACY["affine"]).values()))
    assert f"<td>{mean:.2f} ± {half:.2f}</td>" in text
    nll_mean, nll_half = mean_ci([NLL["affine"] + 0.01 * seed for seed in SEEDS])
    assert f"<td>{nll_mean:.3f} ± {nll_half:.3f}</td>" in text
    delta, delta_half, pairs = paired_difference(_percent(ACCURACY["affine"]), _percent(ACCURACY["baseline"]))
    assert abs(delta) > delta_half and pairs == 3
    assert f'<td>{delta:+.2f} ± {delta_half:.2f} <span class="sig">*</span> <small>(3 pairs)</small></td>' in text
    noisy, noisy_half, _ = paired_difference(_percent(ACCURACY[INJECTED]), _percent(ACCURACY["baseline"]))
    assert abs(noisy) < noisy_half
    assert f"<td>{noisy:+.2f} ± {noisy_half:.2f} <small>(3 pairs)</small></td>" in text


def _decision_rows(section_html: str) -> dict[str, list[str]]:
    """The decision table's cells by method, in table order."""
    table = section_html.split('<table class="decision">')[1].split("</table>")[0]
    return {method: re.findall(r"<td>(.*?)</td>", row)
            for method, row in re.findall(r'<tr data-method="([^"]*)">(.*?)</tr>', table)}


def test_table_has_holm_verdict_and_probability_of_being_best(report: Path) -> None:
    digits = report.read_text(encoding="utf-8").split("<section>")[1]
    assert "survives Holm" in digits and "P(best)" in digits
    rows = _decision_rows(digits)
    best = probability_best({m: _percent(v) for m, v in ACCURACY.items()})
    assert rows["affine"][5:7] == ["yes", f"{best['affine']:.2f}"]
    assert rows["baseline"][5:7] == ["–", f"{best['baseline']:.2f}"]
    assert best["affine"] > 0.9


def test_decision_table_is_ranked_with_the_seeds_needed_for_80_percent_power(report: Path) -> None:
    digits = report.read_text(encoding="utf-8").split("<section>")[1]
    rows = _decision_rows(digits)
    assert list(rows) == ["affine", INJECTED.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"),
                          "baseline"]  # by mean accuracy: 86.67, 82.00, 81.67
    assert [cells[0] for cells in rows.values()] == ["1", "2", "3"]
    needed = seeds_for_power(_percent(ACCURACY["affine"]), _percent(ACCURACY["baseline"]))
    assert rows["affine"][-1] == str(needed) and rows["baseline"][-1] == "–"


def test_plotted_means_agree_with_the_table(report: Path) -> None:
    for section in report.read_text(encoding="utf-8").split("<section>")[1:]:
        plotted = json.loads(html.unescape(re.search(r'data-plot="accuracy" data-values=\'([^\']*)\'', section).group(1)))
        table = {html.unescape(method): float(cells[3].split(" ± ")[0]) for method, cells in _decision_rows(section).items()}
        assert plotted == table


def test_section_titles_are_unique_and_name_the_setting() -> None:
    sections = group_runs([_stored("baseline", 2), _stored("baseline", 3)])
    assert section_titles(sections) == ["digits / harness_cnn (epochs=2)", "digits / harness_cnn (epochs=3)"]
    assert section_titles(sections[:1]) == ["digits / harness_cnn"]


def test_reliability_bins_with_few_samples_are_faded_and_hatched() -> None:
    sparse = {"confidence": [0.3, 0.9], "accuracy": [0.2, 0.8], "count": [MIN_BIN_SAMPLES - 1, 50]}
    spec = _spec("baseline", 0)
    run = StoredRun(spec, spec.key, ENVIRONMENT, 0.0, {"test_accuracy": 0.8}, artifacts={"reliability": sparse})
    section = group_runs([run])[0]
    figure = _PLOTS["reliability"][0](section)
    bars = [patch for patch in figure.axes[0].patches if patch.get_height() > 0]
    assert sorted((round(bar.get_height(), 2), bool(bar.get_hatch())) for bar in bars) == [(0.2, True), (0.8, False)]


def test_decision_columns_correct_for_multiple_comparisons() -> None:
    runs = [*_stored_seeds("baseline", [0.80, 0.82, 0.81]), *_stored_seeds("a", [0.84, 0.865, 0.85]),
            *_stored_seeds("b", [0.82, 0.81, 0.83])]
    (section,) = group_runs(runs)
    survives, best = decision_columns(section)
    assert set(survives) == {"a", "b"} and sum(best.values()) == pytest.approx(1.0)
    assert best["a"] > 0.9 and best["baseline"] < 0.05
    assert survives["a"] and not survives["b"]  # b's noisy +1 pp over 3 seeds does not survive the correction


def _stored_seeds(method: str, values: list[float]) -> list[StoredRun]:
    runs = []
    for seed, value in enumerate(values):
        spec = _spec(method, seed)
        runs.append(StoredRun(spec, spec.key, ENVIRONMENT, float(seed), {"test_accuracy": value}))
    return runs


def test_table_columns_follow_the_stored_metrics(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    digits, cifar = text.split("<section>")[1:]
    digits, cifar = (part.replace("<wbr>", "") for part in (digits, cifar))
    assert "<th>test_nll</th>" in digits and "<th>train_images_per_s</th>" in digits
    assert "test_nll" not in cifar and "train_images_per_s" not in cifar
    assert "<th>test_accuracy (%)</th>" in cifar and "<th>wall_time_s</th>" in cifar


def test_baseline_row_comes_first(report: Path) -> None:
    digits = report.read_text(encoding="utf-8").split("<section>")[1]
    methods = re.findall(r"<tr><td>([^<]*)</td>", digits)
    assert methods == ["baseline", "affine", "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"]


def test_database_text_is_escaped(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert INJECTED not in text and "<script>alert" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text


def test_header_counts_runs_and_lists_environments(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "13 run(s)" in text
    environment = text.split("<h2>Environment</h2>")[1]
    assert "<td>2.13.0+cpu</td>" in environment
    assert "<td>cpu</td>" in environment and "<td>cuda:0</td>" in environment
    assert re.search(r"written \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", text)


def test_empty_database_writes_a_page_without_plots(tmp_path: Path) -> None:
    path = write_report(Store(str(tmp_path / "empty.db")), tmp_path / "out")
    text = path.read_text(encoding="utf-8")
    assert "no finished runs" in text and '<div id="render-check">' in text
    assert not list(path.parent.glob("*.png"))


def _stored(method: str, epochs: int, evaluations: tuple[str, ...] = (), accuracy: float = 0.5) -> StoredRun:
    spec = _spec(method, 0, epochs=epochs, evaluations=evaluations)
    return StoredRun(spec, spec.key, ENVIRONMENT, 0.0, {"test_accuracy": accuracy})


def test_sections_split_by_setup_and_put_the_baseline_first() -> None:
    first, second = group_runs([_stored("affine", 2), _stored("baseline", 2), _stored("affine", 3)])
    assert (first.title, list(first.methods), first.setup["epochs"]) == ("digits / harness_cnn", ["baseline", "affine"], 2)
    assert (list(second.methods), second.setup["epochs"]) == (["affine"], 3)


def test_evaluations_do_not_split_a_section_and_the_last_run_of_a_seed_counts() -> None:
    old, new = _stored("affine", 2, ("calibration",), 0.5), _stored("affine", 2, ("corruption",), 0.6)
    (section,) = group_runs([_stored("baseline", 2), old, new])
    assert list(section.methods) == ["baseline", "affine"] and section.methods["affine"] == [new]


def test_reliability_average_is_weighted_by_count_and_skips_empty_bins() -> None:
    bins = average_reliability([_reliability(0), _reliability(2)])
    assert bins["count"].tolist() == [8.0, 14.0, 0.0]
    assert bins["accuracy"][1] == pytest.approx((6 * 0.5 + 8 * 0.7) / 14)
    assert bins["confidence"][0] == pytest.approx(0.3)
    assert bins["accuracy"][2] != bins["accuracy"][2]  # nan: no sample in any run


def test_format_stat_digits_follow_the_magnitude() -> None:
    assert format_stat(Stat(84.56789, 1.23456, 3)) == "84.57 ± 1.23"
    assert format_stat(Stat(0.4123, 0.0521, 3)) == "0.412 ± 0.052"
    assert format_stat(Stat(1523.4, 80.2, 3)) == "1523 ± 80"
    assert format_stat(Stat(0.5, 2.5, 3), signed=True) == "+0.50 ± 2.50"
    assert format_stat(Stat(70.0, float("nan"), 1)) == "70.00"


def test_cli_report_prints_the_path(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", f"sqlite:///{db_path}", "--out", str(tmp_path / "cli")]) == 0
    path = tmp_path / "cli" / "report.html"
    assert path.is_file() and str(path) in capsys.readouterr().out


def _chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
    if found is None:
        if os.environ.get("AUGBENCH_REQUIRE_CHROMIUM") == "1":
            pytest.fail("AUGBENCH_REQUIRE_CHROMIUM=1 but chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium not installed: apt-get install chromium (CI installs it)")
    return found


def _render(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on ``page`` in a 1400 x 1000 window."""
    command = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--window-size=1400,1000",
        *extra, page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    done = _render(report, tmp_path, "--dump-dom")
    check = re.search(r'<div id="render-check">([^<]*)</div>', done.stdout)
    assert check is not None, f"no render-check in chromium's DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    assert re.fullmatch(rf"ok images={EXPECTED_IMAGES} rows={EXPECTED_ROWS} width=\d+", check.group(1))


def test_a_wide_report_fits_a_1400_px_window(tmp_path: Path) -> None:
    """Many methods with long names and every metric: the page still fits 1400 px (DOM scroll
    width and the screenshot), the wide metric table scrolls inside its box."""
    store = Store(str(tmp_path / "wide.db"))
    metrics = ("test_accuracy", "test_nll", "test_ece", "test_corruption_accuracy", "test_fgsm_accuracy",
               "test_pgd_accuracy", "train_images_per_s", "wall_time_s", "augmentation_time_fraction",
               "peak_memory_mb", "test_linear_probe_accuracy", "test_knn_accuracy")
    for index, method in enumerate(("baseline", "affine", "erasing", "rrc", "mixup", "cutmix", "augmix")):
        for seed in SEEDS:
            spec = RunSpec.create(dataset="digits", model="harness_cnn", method=method, seed=seed, epochs=2,
                                  label=f"{method}-with-a-long-descriptive-label" if index else method)
            values = {name: 0.5 + 0.01 * (index + seed) for name in metrics}
            store.save(RunResult(spec, values, environment=ENVIRONMENT, artifacts={"reliability": _reliability(seed)}))
    page = write_report(store, tmp_path / "wide")
    check = re.search(r'<div id="render-check">([^<]*)</div>', _render(page, tmp_path, "--dump-dom").stdout)
    assert check is not None
    width = int(check.group(1).rsplit("width=", 1)[1])
    assert width <= 1400, f"the page is {width} px wide"
    shot = tmp_path / "shot.png"
    _render(page, tmp_path, f"--screenshot={shot}")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1400
