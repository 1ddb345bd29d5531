"""The pieces of ``make bench-compare`` (tests/bench/bench_compare.py): the scenarios, their
lower bounds and state checks (``spec``), and the playbooks of each collection (``playbooks``)."""
