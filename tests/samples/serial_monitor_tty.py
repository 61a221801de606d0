#!/usr/bin/python3
"""serial_monitor on a real terminal: started with a pseudo-terminal as its controlling
terminal (as in tmux or xterm), with a second pseudo-terminal as the serial port. Typed keys
must reach the port (Ctrl-C too: the terminal is raw), the port's bytes the screen, the Ctrl-T
menu must toggle echo and timestamps, change the baud rate and show the settings, a log file
must receive what the port sent, and Ctrl-] must quit with status 0.

usage: serial_monitor_tty.py /path/to/serial_monitor
"""
import os
import pty
import select
import sys
import tempfile
import termios
import time
import tty

DEADLINE = 10.0  # seconds for any one expectation


class Failure(Exception):
    pass


def read_until(fd, wanted, what, buffer):
    """Reads fd into buffer[0] until `wanted` appears; returns what came after it."""
    end = time.monotonic() + DEADLINE
    while wanted not in buffer[0]:
        left = end - time.monotonic()
        if left <= 0:
            raise Failure(f"{what}: {wanted!r} never came; got {buffer[0][-400:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise Failure(f"{what}: end of output before {wanted!r}; got {buffer[0][-400:]!r}")
            buffer[0] += chunk
    at = buffer[0].index(wanted) + len(wanted)
    rest = buffer[0][at:]
    buffer[0] = rest
    return rest


def main():
    monitor = sys.argv[1]
    port_master, port_slave = os.openpty()
    tty.setraw(port_master)
    port_name = os.ttyname(port_slave)
    os.close(port_slave)
    log_dir = tempfile.mkdtemp(prefix="ferry-monitor-tty-")
    log_path = os.path.join(log_dir, "session.log")

    pid, terminal = pty.fork()
    if pid == 0:
        os.execv(monitor, [monitor, port_name, "--baud", "115200", "--no-reconnect",
                           "--log", log_path])
    screen = [b""]
    port = [b""]
    try:
        read_until(terminal, b"open, 115200 8N1", "the port opening", screen)

        os.write(terminal, b"hello\r")
        read_until(port_master, b"hello\r", "typed keys reaching the port", port)
        os.write(terminal, b"\x03")  # Ctrl-C: raw terminal, so it is a key for the device
        read_until(port_master, b"\x03", "Ctrl-C reaching the port", port)

        os.write(port_master, b"reading=21.5\r\n")
        read_until(terminal, b"reading=21.5", "the port's bytes reaching the screen", screen)

        os.write(terminal, b"\x14e")  # Ctrl-T e: local echo
        read_until(terminal, b"local echo on", "Ctrl-T e", screen)
        os.write(terminal, b"typed-and-echoed\r")
        read_until(terminal, b"typed-and-echoed", "local echo", screen)
        read_until(port_master, b"typed-and-echoed\r", "echoed keys reaching the port", port)

        os.write(terminal, b"\x14t")  # Ctrl-T t: timestamps
        read_until(terminal, b"timestamps on", "Ctrl-T t", screen)
        os.write(port_master, b"stamped\r\n")
        after = read_until(terminal, b"] stamped", "a timestamped line", screen)
        del after

        os.write(terminal, b"\x14B57600\r")  # Ctrl-T B: baud rate
        read_until(terminal, b"now 57600 8N1", "Ctrl-T B 57600", screen)
        speed = termios.tcgetattr(port_master)[5]
        if speed != termios.B57600:
            raise Failure(f"the port's speed is {speed}, not B57600, after Ctrl-T B 57600")
        os.write(terminal, b"\x14Bfast\r")
        read_until(terminal, b"is not a baud rate", "a bad baud rate refused", screen)
        os.write(terminal, b"\x14c")
        read_until(terminal, b"57600 8N1", "Ctrl-T c showing the settings", screen)

        os.write(terminal, b"\x1d")  # Ctrl-]
        end = time.monotonic() + DEADLINE
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > end:
                raise Failure("Ctrl-] did not quit")
            try:
                select.select([terminal], [], [], 0.05)
                os.read(terminal, 4096)
            except OSError:
                time.sleep(0.05)
        pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            raise Failure(f"exit status {os.waitstatus_to_exitcode(status)} after Ctrl-]")
        with open(log_path, "rb") as log:
            logged = log.read()
        if b"reading=21.5\r\n" not in logged or b"stamped\r\n" not in logged:
            raise Failure(f"the log file lacks what the port sent: {logged!r}")
    except Failure as failure:
        print(f"serial_monitor on a terminal: FAILED: {failure}")
        return 1
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    print("serial_monitor on a terminal: ok: keys, Ctrl-C, screen, echo, timestamps, baud "
          "change, settings, log file, Ctrl-] quits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
