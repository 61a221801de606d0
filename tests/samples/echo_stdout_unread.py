#!/usr/bin/python3
"""An echo server whose standard output nobody reads must keep serving: its output goes through
the loop, and past a bound lines are dropped and counted instead of blocking the server.

usage: echo_stdout_unread.py /path/to/echo-or-echo_streams
Starts `<program> server --port 0` with stdout on a pipe, reads only the "serving on" line,
then makes 3000 round trips of 1000-byte lines (about 3 MB of log output, far more than the
pipe and the 1 MiB bound hold), each bounded by a timeout; then reads the pipe (stdout and stderr), which
must report dropped lines, and stops the server with SIGTERM, which must exit 0.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

ROUND_TRIPS = 3000
TIMEOUT = 10.0


def main():
    program = sys.argv[1]
    server = subprocess.Popen([program, "server", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        first = server.stdout.readline().decode()
        match = re.search(r"serving on 127\.0\.0\.1:(\d+)", first)
        if not match:
            print(f"echo with unread stdout: FAILED: no 'serving on' line: {first!r}")
            return 1
        port = int(match.group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
            client.settimeout(TIMEOUT)
            line = b"x" * 999 + b"\n"
            for i in range(ROUND_TRIPS):
                client.sendall(line)
                got = b""
                while len(got) < len(line):
                    chunk = client.recv(65536)
                    if not chunk:
                        print(f"echo with unread stdout: FAILED: closed after {i} round trips")
                        return 1
                    got += chunk
                if got != line:
                    print(f"echo with unread stdout: FAILED: wrong echo at round trip {i}")
                    return 1
        server.send_signal(signal.SIGTERM)
        output = server.stdout.read().decode(errors="replace")
        status = server.wait(timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"echo with unread stdout: FAILED: {error!r} (the server stalled?)")
        return 1
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    if "lines dropped: standard output was not being read" not in output:
        print("echo with unread stdout: FAILED: no count of dropped lines in its output")
        return 1
    if status != 0:
        print(f"echo with unread stdout: FAILED: exit status {status} after SIGTERM")
        return 1
    print(f"echo with unread stdout: ok: {ROUND_TRIPS} round trips while nobody read stdout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
