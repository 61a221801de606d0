#!/usr/bin/python3
"""producer_consumer without --lines runs for ever (its --help says "0: run for ever"); it used
to stop after 40 samples because the demo's default bound the same variable. A TCP source sends
60 lines; all 60 must reach the CSV file, and the program must still be running afterwards.

usage: producer_consumer_lines.py /path/to/producer_consumer /path/to/out.csv
"""
import os
import socket
import subprocess
import sys
import time

LINES = 60
TIMEOUT = 20.0


def main():
    program, csv = sys.argv[1], sys.argv[2]
    if os.path.exists(csv):
        os.remove(csv)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    run = subprocess.Popen([program, "--source", f"127.0.0.1:{port}", "--csv", csv],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        listener.settimeout(TIMEOUT)
        connection, _ = listener.accept()
        with connection:
            for i in range(LINES):
                connection.sendall(f"sensor,reading={i}\r\n".encode())
            deadline = time.monotonic() + TIMEOUT
            written = 0
            while time.monotonic() < deadline:
                if os.path.exists(csv):
                    with open(csv) as f:
                        written = sum(1 for _ in f)
                if written >= LINES:
                    break
                time.sleep(0.05)
            if written < LINES:
                print(f"producer_consumer without --lines: FAILED: {written} of {LINES} lines "
                      f"written; exit status {run.poll()}")
                return 1
            if run.poll() is not None:
                print(f"producer_consumer without --lines: FAILED: it exited ({run.returncode})")
                return 1
    finally:
        run.kill()
        run.wait()
        listener.close()
    print(f"producer_consumer without --lines: ok: {LINES} lines written and still running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
