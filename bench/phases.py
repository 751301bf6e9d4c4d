#!/usr/bin/env python3
"""Server CPU per migration (or rollback step), by phase, from a `perf record -a -g` file.

usage: phases.py PERF_DATA STEPS

Takes the busiest `postgres` process of the recording (the session's backend) and sorts
each sample by the outermost PostgreSQL function on its stack that names a phase: the
utility statements (the migrations' DDL, SET, EXECUTE), executor start-up (building the
plan's state), execution, commit, sending results, planning, parsing.
"""
import collections
import subprocess
import sys

PHASES = [
    "CommitTransactionCommand", "StartTransactionCommand", "standard_ProcessUtility",
    "PortalStart", "standard_ExecutorStart", "standard_ExecutorRun", "standard_ExecutorEnd",
    "PortalDrop", "pg_plan_queries", "GetCachedPlan", "pg_analyze_and_rewrite_fixedparams",
    "pg_analyze_and_rewrite_varparams", "pg_parse_query", "__send", "pq_getbyte",
]


def main(path: str, steps: int) -> None:
    out = subprocess.run(
        ["perf", "script", "-i", path, "--comm", "postgres", "-F", "comm,pid,ip,sym"],
        capture_output=True, text=True, check=True,
    ).stdout
    header = subprocess.run(["perf", "report", "-i", path, "--header-only"],
                            capture_output=True, text=True).stdout
    hz = 4999
    for line in header.splitlines():
        if "sample_freq" in line:
            for part in line.replace(",", " ").split():
                if part.startswith("sample_freq="):
                    hz = int(part.split("=")[1])
    per_pid = collections.defaultdict(collections.Counter)
    for block in out.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        pid = lines[0].split()[1]
        names = [(l.split() + ["", ""])[1] for l in lines[1:]]
        phase = next((n for n in reversed(names) if n in PHASES), "other")
        per_pid[pid][phase] += 1
    pid, counts = max(per_pid.items(), key=lambda kv: sum(kv[1].values()))
    total = sum(counts.values())
    us = lambda n: n / hz * 1e6 / steps
    print(f"backend {pid}: {us(total):.0f} us of server CPU per step")
    for phase, n in counts.most_common():
        print(f"  {phase:40s} {us(n):6.0f} us")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
