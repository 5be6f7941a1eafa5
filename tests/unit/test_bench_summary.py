"""The benchmark harness's pure parts (benchmarks/bench/summary.py): medians, ratios, verdicts, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench import summary

PEERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers"


def test_median_of_an_odd_and_an_even_number_of_runs() -> None:
    assert summary.median([3, 1, 2]) == 2
    assert summary.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert summary.median([7]) == 7


def test_median_of_no_runs_is_an_error_not_a_figure() -> None:
    with pytest.raises(ValueError):
        summary.median([])


def test_p90_is_a_measured_value_by_nearest_rank() -> None:
    assert summary.percentile(range(1, 11), 0.9) == 9
    assert summary.percentile([0.5, 0.1, 0.9, 0.2, 0.3], 0.9) == 0.9
    assert summary.percentile([4.2], 0.9) == 4.2
    with pytest.raises(ValueError):
        summary.percentile([1, 2], 0)


def test_a_figure_keeps_every_run_beside_the_median() -> None:
    assert summary.figure([12.0, 10.0, 11.0], "s") == {
        "runs": [12.0, 10.0, 11.0],
        "median": 11.0,
        "unit": "s",
    }
    labelled = summary.figure([1, 2, 3], "files/s", measured_on="measured on the first 200 of 2,000 files")
    assert labelled["measured_on"] == "measured on the first 200 of 2,000 files"


def test_a_derived_figure_is_the_median_of_each_runs_rate() -> None:
    runs = [{"seconds": 50.0}, {"seconds": 40.0}, {"seconds": 100.0}]
    rows_per_s = summary.per_run(runs, lambda run: summary.rate(1_000_000, run["seconds"]), "rows/s")
    assert rows_per_s["runs"] == [20_000.0, 25_000.0, 10_000.0]
    assert rows_per_s["median"] == 20_000.0


def test_a_run_of_no_measurable_time_has_no_rate() -> None:
    assert summary.rate(100, 4) == 25
    with pytest.raises(ValueError):
        summary.rate(100, 0)


def test_ratio_above_one_means_ours_is_faster() -> None:
    # ours 30,000 rows/s against dlt's 10,000 rows/s: three times faster, not a third
    assert summary.ratio(30_000, 10_000) == 3.0
    # against DuckDB's 150,000 rows/s: a fifth of the limit
    assert summary.ratio(30_000, 150_000) == pytest.approx(0.2)
    assert summary.ratio(None, 10_000) is None
    assert summary.ratio(30_000, None) is None
    assert summary.ratio(30_000, 0) is None


def test_throughput_target_fails_one_row_per_second_short() -> None:
    target = summary.Target("end_to_end.big.rows_per_s", "big set", ">=", 20_000, "rows/s")
    assert summary.verdict(target, 19_999) == "FAIL"
    assert summary.verdict(target, 20_000) == "PASS"
    assert summary.verdict(target, None) == "not measured"


def test_memory_target_is_strictly_below_and_load_jobs_at_most() -> None:
    memory = summary.Target("memory.ndjson.peak_rss_mb", "NDJSON", "<", 600, "MB")
    assert summary.verdict(memory, 599.9) == "PASS"
    assert summary.verdict(memory, 600) == "FAIL"
    jobs = summary.Target("end_to_end.small.load_jobs", "jobs", "<=", 10, "jobs")
    assert summary.verdict(jobs, 10) == "PASS"
    assert summary.verdict(jobs, 11) == "FAIL"
    assert jobs.describe() == "<= 10 jobs"


def test_the_issue_targets_are_the_ones_judged() -> None:
    bounds = {target.key: (target.op, target.threshold) for target in summary.TARGETS if not target.versus}
    assert bounds == {
        "end_to_end.big.rows_per_s": (">=", 20_000),
        "end_to_end.big.peak_rss_mb": ("<", 600),
        "end_to_end.small.files_per_s": (">=", 150),
        "end_to_end.small.load_jobs": ("<=", 10),
        "memory.ndjson.peak_rss_mb": ("<", 600),
        "memory.csv.peak_rss_mb": ("<", 600),
        "validation.seconds": ("<", 5),
        # issue 22: the Lambda path
        "lambda.import_to_ready_seconds": ("<=", 5),
        "lambda.cold_total_seconds": ("<=", 6),
        "lambda.warm_cpu_ms": ("<=", 50),
        "lambda.batch_cpu_per_file_ms": ("<=", 10),
        # issue 22, item 5: the load test and the backfill, at 10,000 files each in full mode
        "loadtest.event.files_per_s": (">=", 25),
        "loadtest.event.lost": ("==", 0),
        "loadtest.event.duplicated": ("==", 0),
        "loadtest.backfill.files_per_s": (">=", 25),
        "loadtest.backfill.lost": ("==", 0),
        "loadtest.backfill.duplicated": ("==", 0),
        # issue 23: our CPU, halved from the 80 s per 1M rows measured before it
        "end_to_end.big.ours_cpu_per_million_rows_s": ("<=", 40),
    }
    ratios = {
        (target.key, target.versus): (target.op, target.threshold)
        for target in summary.TARGETS
        if target.versus
    }
    # issue 23: against dlt's best configuration, whichever of its loaders was faster on the set
    assert ratios == {
        (
            "end_to_end.small.files_per_s",
            ("peers.dlt_parquet.small.files_per_s", "peers.dlt_default.small.files_per_s"),
        ): (">=", 1.5),
        (
            "end_to_end.big.rows_per_s",
            ("peers.dlt_parquet.big.rows_per_s", "peers.dlt_default.big.rows_per_s"),
        ): (">=", 12),
    }


def test_a_load_test_passes_only_with_nothing_lost_or_duplicated() -> None:
    """The load test's accounting as the bench reads it: rows neither loaded nor quarantined are
    lost, rows loaded twice are duplicated; either one fails its target, and so does a slow run."""
    from benchmarks.bench.sections.loadtest import measures

    def result(rows_in_bigquery: int, twice: int, files_per_second: float) -> dict[str, Any]:
        return {
            "files": 1_000,
            "deliveries": 2_000,
            "wall_seconds": 40.0,
            "files_per_second": files_per_second,
            "rows_in": 100,
            "rows_in_bigquery": rows_in_bigquery,
            "rows_quarantined": 10,
            "duplicates_loaded": twice,
            "rows_loaded_twice": 0,
            "passed": rows_in_bigquery == 90 and not twice,
            "load_jobs": 12,
            "latency_seconds": {"landed_to_loaded": {"p50": 20.0}},
            "cpu_seconds": {"runners": 20.0, "moto_emulator": 28.0},
            "machine": {"cores": 2},
        }

    good = measures(result(90, 0, 27.0))
    short = measures(result(87, 0, 27.0))
    doubled = measures(result(90, 2, 20.0))
    assert good["cpu_share_of_machine"] == {"runners": 0.25, "moto_emulator": 0.35}
    verdicts = {
        name: {line["key"]: line["verdict"] for line in summary.judge({"loadtest": {"event": node}})}
        for name, node in (("good", good), ("short", short), ("doubled", doubled))
    }
    assert [verdicts["good"][f"loadtest.event.{k}"] for k in ("files_per_s", "lost", "duplicated")] == [
        "PASS",
        "PASS",
        "PASS",
    ]
    assert (short["lost"], verdicts["short"]["loadtest.event.lost"]) == (3, "FAIL")
    assert verdicts["doubled"]["loadtest.event.duplicated"] == "FAIL"
    assert verdicts["doubled"]["loadtest.event.files_per_s"] == "FAIL"
    assert verdicts["good"]["loadtest.backfill.files_per_s"] == "not measured"


def sections() -> dict[str, Any]:
    """Sections as the harness builds them, trimmed to the figures the summary reads."""
    return {
        "end_to_end": {
            "big": {
                "rows_per_s": summary.figure([21_000, 19_000, 24_000], "rows/s"),
                "peak_rss_mb": summary.figure([580, 610, 590], "MB"),
            },
            "small": {
                "files_per_s": summary.figure([160, 140, 155], "files/s"),
                "rows_per_s": summary.figure([3_200, 2_800, 3_100], "rows/s"),
                "load_jobs": summary.figure([8, 8, 8], "jobs"),
            },
        },
        "peers": {
            "dlt_parquet": {
                "big": {"rows_per_s": summary.figure([1_500], "rows/s")},
                "small": {"files_per_s": summary.figure([62], "files/s")},
            },
            "pandas_gbq": {
                "small": {
                    "files_per_s": summary.figure([5, 6, 7], "files/s"),
                    "measured_on": "measured on the first 200 of 2,000 files",
                }
            },
        },
        "limit": {"duckdb_best": {"big": {"rows_per_s": summary.figure([210_000], "rows/s")}}},
        "validation": {"seconds": summary.figure([3.4, 3.3, 5.2], "s")},
    }


def test_judge_reads_each_median_and_says_what_was_not_measured() -> None:
    judged = {
        line["key"]: (line["value"], line["verdict"])
        for line in summary.judge(sections())
        if not line["versus"]
    }
    assert judged["end_to_end.big.rows_per_s"] == (21_000, "PASS")
    assert judged["end_to_end.big.peak_rss_mb"] == (590, "PASS")
    assert judged["end_to_end.small.files_per_s"] == (155, "PASS")
    assert judged["end_to_end.small.load_jobs"] == (8, "PASS")
    assert judged["validation.seconds"] == (3.4, "PASS")
    assert judged["memory.csv.peak_rss_mb"] == (None, "not measured")


def test_ratios_compare_throughputs_and_carry_the_subset_label() -> None:
    lines = {(line["peer"], line["set"]): line for line in summary.summary_ratios(sections())}
    assert lines[("dlt, parquet loader", "big")]["ratio"] == pytest.approx(21_000 / 1_500)
    assert lines[("dlt, parquet loader", "small")]["ratio"] == pytest.approx(155 / 62)
    assert lines[(summary.DUCKDB_LIMIT, "big")]["ratio"] == pytest.approx(0.1)
    pandas = lines[("pandas + pandas-gbq", "small")]
    assert pandas["ratio"] == pytest.approx(155 / 6)
    assert pandas["note"] == "measured on the first 200 of 2,000 files"
    # a peer that did not run has no ratio rather than a made-up one
    assert lines[("pandas + pandas-gbq", "big")]["ratio"] is None
    assert lines[("dlt, default loader (jsonl)", "small")]["ratio"] is None


def test_the_limit_is_the_faster_duckdb_configuration_per_set() -> None:
    declared = {"rows_per_s": summary.figure([150_000, 160_000], "rows/s"), "raw": [{"run": 1}]}
    detected = {"rows_per_s": summary.figure([40_000, 42_000], "rows/s"), "raw": [{"run": 1}]}
    best = summary.fastest({"declared": declared, "detected": detected})
    assert best["schema"] == "declared"
    assert best["rows_per_s"]["median"] == 155_000
    assert "raw" not in best
    # on 2,000 tiny files detection can win: the limit follows the measurement, not the name
    declared["rows_per_s"] = summary.figure([6_000], "rows/s")
    assert summary.fastest({"declared": declared, "detected": detected})["schema"] == "detected"


def dlt_ratio(sections: dict[str, Any], file_set: str) -> dict[str, Any]:
    """The judged line of the target 'ours / dlt's best configuration' on ``file_set``."""
    (line,) = [
        line
        for line in summary.judge(sections)
        if line["versus"] and line["key"].startswith(f"end_to_end.{file_set}.")
    ]
    return line


def with_small(ours: float | None, parquet: float | None, default: float | None) -> dict[str, Any]:
    """Sections with the small set's files/s of ours and of dlt's two loaders (None: not run)."""
    figures: dict[str, Any] = {}
    if ours is not None:
        figures["end_to_end"] = {"small": {"files_per_s": summary.figure([ours], "files/s")}}
    for key, value in (("dlt_parquet", parquet), ("dlt_default", default)):
        if value is not None:
            peers = figures.setdefault("peers", {})
            peers[key] = {"small": {"files_per_s": summary.figure([value], "files/s")}}
    return figures


def test_ratio_to_dlt_passes_at_one_and_a_half_times_its_best_and_fails_below() -> None:
    passed = dlt_ratio(with_small(90, 60, 25), "small")
    assert (passed["value"], passed["verdict"]) == (pytest.approx(1.5), "PASS")
    assert passed["against"] == "peers.dlt_parquet.small.files_per_s"
    failed = dlt_ratio(with_small(89, 60, 25), "small")
    assert (failed["value"], failed["verdict"]) == (pytest.approx(89 / 60), "FAIL")


def test_ratio_to_dlt_is_against_its_faster_configuration() -> None:
    # Against the parquet loader alone ours would pass (90 / 60); its default loader was faster.
    line = dlt_ratio(with_small(90, 60, 75), "small")
    assert (line["value"], line["verdict"]) == (pytest.approx(1.2), "FAIL")
    assert line["against"] == "peers.dlt_default.small.files_per_s"
    # one configuration measured (quick mode runs only parquet): the best of those measured
    assert dlt_ratio(with_small(90, 60, None), "small")["against"] == "peers.dlt_parquet.small.files_per_s"
    keys = ["peers.dlt_parquet.small.files_per_s", "peers.dlt_default.small.files_per_s"]
    assert summary.best(with_small(None, 58, 26), keys) == ("peers.dlt_parquet.small.files_per_s", 58)
    assert summary.best(with_small(None, None, None), keys) is None


def test_ratio_to_dlt_is_not_measured_without_either_side() -> None:
    for only_one_side in (with_small(90, None, None), with_small(None, 60, 25)):  # --only e2e, --only dlt
        line = dlt_ratio(only_one_side, "small")
        assert (line["value"], line["verdict"]) == (None, "not measured")
    big = dlt_ratio(sections(), "big")  # 21,000 rows/s against dlt parquet's 1,500 on the big set
    assert (big["value"], big["verdict"]) == (pytest.approx(14), "PASS")


def test_a_ratio_target_prints_as_times() -> None:
    (target,) = [t for t in summary.TARGETS if t.versus and t.key.startswith("end_to_end.small.")]
    assert target.describe() == ">= 1.5x"
    assert target.show(1.254) == "1.25x"
    assert target.show(None) == "-"
    assert summary.Target("validation.seconds", "suite", "<", 5, "s").show(3.44) == "3.4"


def test_our_cpu_per_unit_of_work_and_shares_of_the_cores_are_medians_of_each_run() -> None:
    # Two runs on 2 cores. Each run's figure from its own CPU, files and rows, then the median:
    # not the median CPU over the median files (38 / 90 files would be 422.2 s per 1,000).
    runs = [
        {
            "seconds": 50.0,
            "files": 100,
            "rows_in": 800_000,
            "cpu_seconds": {"ours": 40.0, "moto": 5.0, "bigquery": 35.0},
        },
        {
            "seconds": 40.0,
            "files": 80,
            "rows_in": 900_000,
            "cpu_seconds": {"ours": 36.0, "moto": 4.0, "bigquery": 24.0},
        },
    ]
    figures = summary.cpu_figures(runs, cores=2)
    assert figures["cores"] == 2
    # 40 s / 100 files and 36 s / 80 files: 400 and 450 s per 1,000 files
    assert figures["ours_cpu_per_1k_files_s"]["runs"] == pytest.approx([400, 450])
    assert figures["ours_cpu_per_1k_files_s"]["median"] == pytest.approx(425)
    # 40 s / 0.8M rows and 36 s / 0.9M rows: 50 and 40 s per 1M rows
    assert figures["ours_cpu_per_million_rows_s"]["runs"] == pytest.approx([50, 40])
    assert figures["ours_cpu_per_million_rows_s"]["median"] == pytest.approx(45)
    # of 2 cores x 50 s = 100 core-seconds, and 2 x 40 s = 80
    shares = {who: figure["median"] for who, figure in figures["core_share"].items()}
    assert shares == pytest.approx({"ours": 0.425, "moto": 0.05, "bigquery": 0.325, "all": 0.8})
    assert figures["core_share"]["ours"]["runs"] == pytest.approx([0.4, 0.45])


def test_a_run_of_no_files_has_no_cpu_per_file() -> None:
    assert summary.cpu_per(8.0, 2_000, 1_000) == 4.0
    with pytest.raises(ValueError):
        summary.cpu_per(8.0, 0, 1_000)
    with pytest.raises(ValueError):
        summary.core_share(8.0, 0, 2)


def test_row_accounting_flags_fewer_and_more_rows_than_written() -> None:
    assert summary.rows_accounting_problem("ours big run 1", 1_000_000, 1_000_000) is None
    fewer = summary.rows_accounting_problem("ours big run 1", 1_000_000, 999_990)
    assert fewer == "ours big run 1: loaded 999,990 rows, 1,000,000 written"
    assert summary.rows_accounting_problem("dlt small run 2", 40_000, 40_020) is not None


MEMINFO = "MemTotal:       24683656 kB\nMemFree:        23000000 kB\nMemAvailable:   23500000 kB\n"
CPUINFO = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\n"
    "processor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
)


def test_machine_from_proc_texts() -> None:
    found = summary.machine(2, MEMINFO, CPUINFO, "3.13.0", "Linux-6.1-x86_64")
    assert found == {
        "cores": 2,
        "memory_bytes": 24683656 * 1024,
        "memory_gib": 23.5,
        "cpu_model": "AMD EPYC 7B13",
        "python": "3.13.0",
        "platform": "Linux-6.1-x86_64",
    }
    assert summary.machine(None, "", "", "3.13.0", "x")["memory_bytes"] is None


def test_results_document_is_json_with_machine_versions_targets_and_ratios() -> None:
    document = summary.results_document(
        date="2025-11-25T00:00:00+00:00",
        mode="quick",
        runs=3,
        elapsed_seconds=171.5,
        command=["python -m benchmarks.bench", "--quick"],
        machine_info=summary.machine(2, MEMINFO, CPUINFO, "3.13.0", "Linux"),
        versions={"ingest": "0.1.0", "dlt": "1.31.0", "duckdb": "2.0.1"},
        sizes={"big_files": 4},
        sections=sections(),
        problems=[],
    )
    again = json.loads(json.dumps(document))
    assert again["schema"] == summary.RESULTS_SCHEMA
    assert (again["mode"], again["runs"]) == ("quick", 3)
    assert again["machine"]["cores"] == 2
    assert again["versions"]["dlt"] == "1.31.0"
    assert again["sections"]["end_to_end"]["big"]["rows_per_s"]["runs"] == [21_000, 19_000, 24_000]
    assert {line["verdict"] for line in again["targets"]} == {"PASS", "not measured"}
    assert len(again["ratios"]) == len(summary.COMPARISONS)
    assert again["problems"] == []


def test_peer_scripts_print_the_prefix_bench_reads() -> None:
    # The peers run in another venv and cannot import benchmarks.bench.summary: they spell it out.
    for script in ("dlt_run.py", "duckdb_limit.py"):
        text = (PEERS / script).read_text(encoding="utf-8")
        assert f"RESULT_PREFIX = {summary.RESULT_PREFIX!r}".replace("'", '"') in text


def test_format_ratio_as_times_or_share() -> None:
    assert summary.format_ratio(3.0) == "3.00x"
    assert summary.format_ratio(0.125, as_share=True) == "12.5%"
    assert summary.format_ratio(None) == "-"
