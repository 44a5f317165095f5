"""``python -m benchmarks``: the band-math harness (bench_kernels), arguments passed on.

The other benchmarks run on their own: bench_validate.py, bench_compile.py,
bench_optimizer.py.
"""

from __future__ import annotations

import sys

from benchmarks.bench_kernels import main

if __name__ == "__main__":
    sys.exit(main())
