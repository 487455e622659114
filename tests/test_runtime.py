import platform

import numpy as np

from npformer.runtime import retain_freed_memory


def test_retain_freed_memory_is_idempotent_and_keeps_numpy_working():
    first = retain_freed_memory()
    assert retain_freed_memory() is first                    # applied once, the answer remembered
    if platform.libc_ver()[0] == "glibc":
        assert first is True                                 # glibc accepted every setting
    # large blocks now come from the heap: allocate, free and reuse them
    for _ in range(3):
        block = np.ones((1024, 1024), dtype=np.float32)
        assert float(block.sum()) == 1024 * 1024
        del block
