"""``python -m benchmarks``: the band-math harness (bench_kernels), arguments passed on;
``python -m benchmarks workflows [...]``: the whole-workflow benchmark (bench_workflows);
``python -m benchmarks startup [...]``: what starting pgc costs (bench_startup).

The other benchmarks run on their own: bench_validate.py, bench_compile.py,
bench_optimizer.py.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["workflows"]:
        from benchmarks.bench_workflows import main as workflows

        return workflows(argv[1:])
    if argv[:1] == ["startup"]:
        from benchmarks.bench_startup import main as startup

        return startup(argv[1:])
    from benchmarks.bench_kernels import main as kernels

    return kernels(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
