"""Keep the process's peak memory close to what it holds, not to what it once held.

Reading a large file makes big short-lived buffers: the file's text, its Arrow columns, the load
file. By default both allocators keep freed memory for reuse: Arrow's mimalloc pool holds its
pages, and glibc raises its mmap threshold after each big free, so later big buffers come from
the heap and stay in the process when freed. On the 1M-row benchmark that kept peak RSS about
200 MB above the live data. What a Lambda or a batch container is sized (and killed) by is that
peak, so ingestion trades a little allocation speed for memory that goes back at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import pyarrow as pa

log = logging.getLogger(__name__)

# glibc's mallopt parameter; setting it also stops glibc from raising it by itself.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 << 20
_configured = False
_libc: ctypes.CDLL | None = None


def return_freed_memory() -> None:
    """Arrow allocates from the system allocator, and glibc maps every buffer of 1 MB or more on
    its own (unmapped when freed). Process-wide; later calls do nothing."""
    global _configured
    if _configured:
        return
    _configured = True
    pa.set_memory_pool(pa.system_memory_pool())
    mallopt = getattr(_glibc(), "mallopt", None)
    if mallopt is None or not mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        log.debug("mallopt unavailable (not glibc): big buffers follow the allocator's defaults")


def hand_back() -> None:
    """Give the pages freed inside the heap back to the system (glibc's ``malloc_trim``).

    Called between load groups: a group's GX run and load leave about 100 MB of freed heap
    that glibc keeps otherwise. Takes well under a millisecond and releases the GIL; a
    ``gc.collect`` here (about 0.2 s with GX loaded, holding the GIL) cost the small-file set
    more than it gave.
    """
    trim = getattr(_glibc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name) if name else None
        except OSError:
            _libc = None
    return _libc
