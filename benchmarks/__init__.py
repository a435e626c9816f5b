"""cartflow benchmarks: `make bench` (= `python -m benchmarks`) writes docs/benchmarks.md.

Benchmarks are not tests: nothing here fails CI and pytest never collects it
(testpaths = tests). Every implementation runs in its own subprocess, so wall time
and peak RSS are per process; see benchmarks/harness.py.
"""
