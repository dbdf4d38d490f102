"""Runs a command and writes its wall time and peak RSS as JSON: `python timed.py OUT.json CMD...`.

Run by file path from a fresh interpreter, so that it stays small: Linux carries a process's
peak RSS over fork and exec, so a child started straight from the (large) benchmark process
would report at least the benchmark's own memory. Uses only the standard library.
"""

import json
import os
import subprocess
import sys
import time


def main(out: str, command: list) -> int:
    start = time.perf_counter()
    process = subprocess.Popen(command)
    # wait4 gives this child's own resources; ru_maxrss is in KiB on Linux.
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(
            {
                "seconds": seconds,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "returncode": process.returncode,
            },
            f,
        )
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
