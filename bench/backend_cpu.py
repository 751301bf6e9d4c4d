#!/usr/bin/env python3
"""backend_cpu.py DATABASE -- COMMAND...: run COMMAND and print its wall time and the CPU
time (user + system) of the PostgreSQL backends serving DATABASE meanwhile, read from
/proc every few milliseconds (the last reading before a backend exits counts; clock ticks
are 10 ms). The server must run on this machine."""
import os
import subprocess
import sys
import time


def backends(db: str) -> list[int]:
    # A backend's title: "postgres: USER DATABASE HOST(PORT) STATE".
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    pids = []
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        words = args.split()
        if len(words) >= 4 and words[0] == "postgres:" and words[2] == db:
            pids.append(int(pid))
    return pids


def cpu(pid: int) -> float | None:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    db, cmd = sys.argv[1], sys.argv[3:]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last: dict[int, float] = {}
    while proc.poll() is None:
        for pid in backends(db):
            if (t := cpu(pid)) is not None:
                last[pid] = t
        time.sleep(0.003)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    print(f"{wall:.3f} {sum(last.values()):.2f}")


main()
