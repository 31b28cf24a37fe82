#!/usr/bin/env python3
"""Run a command and report its wall time and peak memory (max RSS of the
process tree's largest process, from wait4), as one JSON line on stderr."""
import json
import os
import subprocess
import sys
import time

start = time.monotonic()
proc = subprocess.Popen(sys.argv[1:])
_, status, rusage = os.wait4(proc.pid, 0)
wall = time.monotonic() - start
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"command": " ".join(sys.argv[1:]), "exit": code, "wall_s": round(wall, 2),
                  "peak_rss_mib": round(rusage.ru_maxrss / 1024, 1)}), file=sys.stderr)
sys.exit(code)
