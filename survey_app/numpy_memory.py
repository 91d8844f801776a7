"""numpy's large arrays without the transparent-huge-page advice, unless asked for.

numpy advises the kernel to back every large array with huge pages
(``madvise(MADV_HUGEPAGE)``). Where the kernel's ``defrag`` setting is ``madvise`` (the
default on Debian), each first touch of such memory may compact memory on the spot: a
million-response evaluation (``bench/results.py``) spent 3.3–4.0 s of its 8–9 s in the
kernel with the advice, 1.3 s without it, and took 6.0 s instead of 8–9 s. An
operator's own ``NUMPY_MADVISE_HUGEPAGE`` (numpy reads it at import) is left alone.
"""

from __future__ import annotations

import importlib
import os


def advise_no_huge_pages() -> None:
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):  # numpy 2, numpy 1
        try:
            multiarray = importlib.import_module(name)
        except ImportError:
            continue
        setter = getattr(multiarray, "_set_madvise_hugepage", None)
        if setter is not None:
            setter(False)
        return
