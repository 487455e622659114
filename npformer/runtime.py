"""Process settings that make NumPy training faster, applied only when asked for.

NumPy allocates a fresh array for nearly every intermediate, and a training step makes
hundreds of them, most above 128 KiB. glibc's malloc serves those with mmap and gives each one
back to the kernel on free, so the next step pays a page fault for every 4 KiB it touches
again: a measured share of a small GPT's training step (benchmarks/README.md).
``retain_freed_memory`` tells malloc to serve such blocks from its heap and keep freed memory
for reuse, so the step's working set is faulted in once. (PyTorch's CPU tuning guide gets the
same effect by preloading jemalloc or tcmalloc.)

The cost is that the process's resident memory stays at its peak instead of shrinking between
steps; the peak itself does not grow. Nothing changes on systems without glibc.
"""
import ctypes
import ctypes.util

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024      # glibc's cap on 64-bit systems (4 MiB * sizeof(long))
_applied = None


def retain_freed_memory():
    """Keep freed memory in this process for reuse (see the module docstring). Returns True
    when glibc accepted the settings, False where there is no glibc; calling again is free."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):             # not glibc (macOS, musl without mallopt, Windows)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # blocks up to 32 MiB come from the heap; freed memory is trimmed only past 1 GiB; the heap
    # grows 64 MiB at a time (fewer brk calls)
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
                    and mallopt(_M_TRIM_THRESHOLD, 1 << 30)
                    and mallopt(_M_TOP_PAD, 64 << 20))
    return _applied
