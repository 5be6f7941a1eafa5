"""The benchmark harness's pure parts (benchmarks/bench/summary.py): medians, ratios, verdicts, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bench import summary

PEERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers"


def test_median_of_an_odd_and_an_even_number_of_runs():
    assert summary.median([3, 1, 2]) == 2
    assert summary.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert summary.median([7]) == 7


def test_median_of_no_runs_is_an_error_not_a_figure():
    with pytest.raises(ValueError):
        summary.median([])


def test_p90_is_a_measured_value_by_nearest_rank():
    assert summary.percentile(range(1, 11), 0.9) == 9
    assert summary.percentile([0.5, 0.1, 0.9, 0.2, 0.3], 0.9) == 0.9
    assert summary.percentile([4.2], 0.9) == 4.2
    with pytest.raises(ValueError):
        summary.percentile([1, 2], 0)


def test_a_figure_keeps_every_run_beside_the_median():
    assert summary.figure([12.0, 10.0, 11.0], "s") == {
        "runs": [12.0, 10.0, 11.0],
        "median": 11.0,
        "unit": "s",
    }
    labelled = summary.figure([1, 2, 3], "files/s", measured_on="measured on the first 200 of 2,000 files")
    assert labelled["measured_on"] == "measured on the first 200 of 2,000 files"


def test_a_derived_figure_is_the_median_of_each_runs_rate():
    runs = [{"seconds": 50.0}, {"seconds": 40.0}, {"seconds": 100.0}]
    rows_per_s = summary.per_run(runs, lambda run: summary.rate(1_000_000, run["seconds"]), "rows/s")
    assert rows_per_s["runs"] == [20_000.0, 25_000.0, 10_000.0]
    assert rows_per_s["median"] == 20_000.0


def test_a_run_of_no_measurable_time_has_no_rate():
    assert summary.rate(100, 4) == 25
    with pytest.raises(ValueError):
        summary.rate(100, 0)


def test_ratio_above_one_means_ours_is_faster():
    # ours 30,000 rows/s against dlt's 10,000 rows/s: three times faster, not a third
    assert summary.ratio(30_000, 10_000) == 3.0
    # against DuckDB's 150,000 rows/s: a fifth of the limit
    assert summary.ratio(30_000, 150_000) == pytest.approx(0.2)
    assert summary.ratio(None, 10_000) is None
    assert summary.ratio(30_000, None) is None
    assert summary.ratio(30_000, 0) is None


def test_throughput_target_fails_one_row_per_second_short():
    target = summary.Target("end_to_end.big.rows_per_s", "big set", ">=", 20_000, "rows/s")
    assert summary.verdict(target, 19_999) == "FAIL"
    assert summary.verdict(target, 20_000) == "PASS"
    assert summary.verdict(target, None) == "not measured"


def test_memory_target_is_strictly_below_and_load_jobs_at_most():
    memory = summary.Target("memory.ndjson.peak_rss_mb", "NDJSON", "<", 600, "MB")
    assert summary.verdict(memory, 599.9) == "PASS"
    assert summary.verdict(memory, 600) == "FAIL"
    jobs = summary.Target("end_to_end.small.load_jobs", "jobs", "<=", 10, "jobs")
    assert summary.verdict(jobs, 10) == "PASS"
    assert summary.verdict(jobs, 11) == "FAIL"
    assert jobs.describe() == "<= 10 jobs"


def test_the_issue_targets_are_the_ones_judged():
    bounds = {target.key: (target.op, target.threshold) for target in summary.TARGETS}
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
    }


def test_a_load_test_passes_only_with_nothing_lost_or_duplicated():
    """The load test's accounting as the bench reads it: rows neither loaded nor quarantined are
    lost, rows loaded twice are duplicated; either one fails its target, and so does a slow run."""
    from benchmarks.bench.sections.loadtest import measures

    def result(rows_in_bigquery: int, twice: int, files_per_second: float) -> dict:
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


def sections() -> dict:
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
                "big": {"rows_per_s": summary.figure([4_200], "rows/s")},
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


def test_judge_reads_each_median_and_says_what_was_not_measured():
    judged = {line["key"]: (line["value"], line["verdict"]) for line in summary.judge(sections())}
    assert judged["end_to_end.big.rows_per_s"] == (21_000, "PASS")
    assert judged["end_to_end.big.peak_rss_mb"] == (590, "PASS")
    assert judged["end_to_end.small.files_per_s"] == (155, "PASS")
    assert judged["end_to_end.small.load_jobs"] == (8, "PASS")
    assert judged["validation.seconds"] == (3.4, "PASS")
    assert judged["memory.csv.peak_rss_mb"] == (None, "not measured")


def test_ratios_compare_throughputs_and_carry_the_subset_label():
    lines = {(line["peer"], line["set"]): line for line in summary.summary_ratios(sections())}
    assert lines[("dlt, parquet loader", "big")]["ratio"] == pytest.approx(21_000 / 4_200)
    assert lines[("dlt, parquet loader", "small")]["ratio"] == pytest.approx(155 / 62)
    assert lines[(summary.DUCKDB_LIMIT, "big")]["ratio"] == pytest.approx(0.1)
    pandas = lines[("pandas + pandas-gbq", "small")]
    assert pandas["ratio"] == pytest.approx(155 / 6)
    assert pandas["note"] == "measured on the first 200 of 2,000 files"
    # a peer that did not run has no ratio rather than a made-up one
    assert lines[("pandas + pandas-gbq", "big")]["ratio"] is None
    assert lines[("dlt, default loader (jsonl)", "small")]["ratio"] is None


def test_the_limit_is_the_faster_duckdb_configuration_per_set():
    declared = {"rows_per_s": summary.figure([150_000, 160_000], "rows/s"), "raw": [{"run": 1}]}
    detected = {"rows_per_s": summary.figure([40_000, 42_000], "rows/s"), "raw": [{"run": 1}]}
    best = summary.fastest({"declared": declared, "detected": detected})
    assert best["schema"] == "declared"
    assert best["rows_per_s"]["median"] == 155_000
    assert "raw" not in best
    # on 2,000 tiny files detection can win: the limit follows the measurement, not the name
    declared["rows_per_s"] = summary.figure([6_000], "rows/s")
    assert summary.fastest({"declared": declared, "detected": detected})["schema"] == "detected"


def test_row_accounting_flags_fewer_and_more_rows_than_written():
    assert summary.rows_accounting_problem("ours big run 1", 1_000_000, 1_000_000) is None
    fewer = summary.rows_accounting_problem("ours big run 1", 1_000_000, 999_990)
    assert fewer == "ours big run 1: loaded 999,990 rows, 1,000,000 written"
    assert summary.rows_accounting_problem("dlt small run 2", 40_000, 40_020) is not None


MEMINFO = "MemTotal:       24683656 kB\nMemFree:        23000000 kB\nMemAvailable:   23500000 kB\n"
CPUINFO = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\n"
    "processor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
)


def test_machine_from_proc_texts():
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


def test_results_document_is_json_with_machine_versions_targets_and_ratios():
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


def test_peer_scripts_print_the_prefix_bench_reads():
    # The peers run in another venv and cannot import benchmarks.bench.summary: they spell it out.
    for script in ("dlt_run.py", "duckdb_limit.py"):
        text = (PEERS / script).read_text(encoding="utf-8")
        assert f"RESULT_PREFIX = {summary.RESULT_PREFIX!r}".replace("'", '"') in text


def test_format_ratio_as_times_or_share():
    assert summary.format_ratio(3.0) == "3.00x"
    assert summary.format_ratio(0.125, as_share=True) == "12.5%"
    assert summary.format_ratio(None) == "-"
