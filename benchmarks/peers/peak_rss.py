"""Peak memory of this process, for the benchmark's children (ours and the peers alike)."""

from __future__ import annotations


def status_kib(field: str) -> int:
    """A field of /proc/self/status. VmHWM, not ru_maxrss, for peaks: Linux carries ru_maxrss
    over exec from the forked copy of the parent, so a child reports at least its parent's size."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+), so each run reports its own peak."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True
