#!/usr/bin/env python3
"""Time one whole process: wall clock (time.perf_counter) and child CPU time.

Usage:
    timeit_proc.py --label NAME [--cwd DIR] [--log FILE] [--record FILE.jsonl] -- CMD [ARGS...]

The clock starts right before the child is spawned and stops right after it
has been reaped, so the figure is the whole process: start-up, network
construction, simulation, writing results, exit.  The child's stdout/stderr go
to --log (default: discarded) so that terminal output does not perturb the
timing.  CPU time (user + sys, from wait4's rusage) is recorded as well: it
shows whether a simulator used more than one core.

One JSON object per run is appended to --record (if given) and a one-line
summary is printed.  The exit status is the child's (1 if it could not be
started), so callers can tell a failed run from a slow one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True)
    ap.add_argument("--cwd", default=None)
    ap.add_argument("--log", default=None, help="file receiving the child's stdout and stderr")
    ap.add_argument("--record", default=None, help="JSON-lines file to append the measurement to")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given (put it after --)")

    out = open(args.log, "wb") if args.log else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, cwd=args.cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        except OSError as e:
            print(f"{args.label}: cannot start {cmd[0]}: {e}", file=sys.stderr)
            return 1
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if args.log:
            out.close()

    cpu = usage.ru_utime + usage.ru_stime
    rec = {
        "label": args.label,
        "wall_s": wall,
        "cpu_s": cpu,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        # ru_maxrss survives exec, so for a small child it can show the
        # forking Python's footprint instead: an upper bound, not printed.
        "max_rss_kib_upper_bound": usage.ru_maxrss,
        "returncode": proc.returncode,
    }
    if args.record and proc.returncode == 0:
        with open(args.record, "a") as f:
            f.write(json.dumps(rec) + "\n")
    print(
        f"{args.label:<8} wall {wall:8.4f} s   cpu {cpu:8.4f} s"
        + ("" if proc.returncode == 0 else f"   FAILED (exit {proc.returncode})")
    )
    rc = proc.returncode
    return rc if rc >= 0 else 128 - rc  # killed by a signal: shell convention


if __name__ == "__main__":
    sys.exit(main())
