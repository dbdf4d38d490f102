"""`python -m actions.health PORT`: wait until the action server on PORT answers, or fail."""

import sys
import time
import urllib.request


def wait(port: int, seconds: float = 60.0) -> None:
    """Returns once http://127.0.0.1:PORT/health answers; exits with a message after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the action server on port {port} did not answer within {seconds:.0f} s")


if __name__ == "__main__":
    wait(int(sys.argv[1]))
