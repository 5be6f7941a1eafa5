"""How a run's files are split into load groups (``flow._groups``): each group is one load job."""

from __future__ import annotations

from ingest.core.model import FileRef
from ingest.ingestion.flow import _groups

MB = 1 << 20


def refs(count: int, size: int | None) -> list[FileRef]:
    return [FileRef("lake", f"k/{i:04d}", f"e{i}", size) for i in range(count)]


def test_small_files_are_grouped_by_count_alone() -> None:
    files = refs(600, 30_000)

    groups = _groups(files, 250, 256 * MB)

    assert [len(g) for g in groups] == [250, 250, 100]
    assert [ref for group in groups for ref in group] == files


def test_the_first_and_last_groups_of_large_files_are_a_quarter_of_the_rest() -> None:
    """Nothing overlaps the reading of the first group or the load of the last, so they are short."""
    files = refs(100, 15 * MB)

    groups = _groups(files, 250, 256 * MB)

    sizes = [len(g) * 15 for g in groups]
    assert sizes[0] <= 64 and sizes[-1] <= 64
    assert all(size <= 256 for size in sizes)
    # 4 files (60 MB), five groups of 17 (255 MB), then the 11 left as 7 and 4.
    assert [len(g) for g in groups] == [4, 17, 17, 17, 17, 17, 7, 4]
    assert [ref for group in groups for ref in group] == files


def test_a_file_larger_than_the_cap_is_a_group_of_its_own() -> None:
    files = refs(3, 300 * MB)

    assert [len(g) for g in _groups(files, 250, 256 * MB)] == [1, 1, 1]


def test_files_of_unknown_size_are_grouped_by_count() -> None:
    assert [len(g) for g in _groups(refs(7, None), 3, 256 * MB)] == [3, 3, 1]


def test_a_few_large_files_still_start_and_end_short() -> None:
    # 60 MB first; the 140 MB left would be one group, split into 80 and a last 60.
    assert [len(g) for g in _groups(refs(10, 20 * MB), 250, 256 * MB)] == [3, 4, 3]


def test_files_within_the_first_cap_stay_one_group() -> None:
    assert [len(g) for g in _groups(refs(3, 20 * MB), 250, 256 * MB)] == [3]
