#!/usr/bin/python3
"""The scripted side of `ferry-bridge --demo`: starts the bridge (a simulated sensor on a pty
behind 127.0.0.1:PORT), connects two clients as a user with nc would and a third as pyserial's
rfc2217:// port, shows the exchange, then stops the bridge with Ctrl-C (SIGINT) and shows its
statistics.
Usage: demo_client.py [--under WRAPPER] FERRY_BRIDGE [PORT]   (PORT 0, the default here, picks
a free one). With --under (the Windows build: tests/windows/run_under_wine.sh), the bridge runs
through the wrapper, Ctrl-C goes to the program itself (Wine turns SIGINT into a console Ctrl-C)
and its statistics, which Wine's log keeps, are not checked."""

import os
import signal
import socket
import subprocess
import sys
import time

arguments = sys.argv[1:]
wrapper = []
if arguments[:1] == ["--under"]:
    wrapper, arguments = [arguments[1]], arguments[2:]
binary = arguments[0]
port = arguments[1] if len(arguments) > 1 else "0"
bridge = subprocess.Popen(wrapper + [binary, "--demo", "--demo-port", port],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt():
    """Ctrl-C for the bridge: the process itself, or under a wrapper its child that runs it."""
    if not wrapper:
        bridge.send_signal(signal.SIGINT)
        return
    name = os.path.basename(binary)
    with open("/proc/%d/task/%d/children" % (bridge.pid, bridge.pid)) as children:
        for child in children.read().split():
            with open("/proc/%s/cmdline" % child, "rb") as command:
                if name.encode() in command.read():
                    os.kill(int(child), signal.SIGINT)


def fail(message):
    bridge.kill()
    raise SystemExit("demo: FAILED: " + message)


# The bridge's first lines say where it listens and how to talk to it. (Read line by line:
# select() on the pipe would not see lines already in Python's buffer.)
signal.signal(signal.SIGALRM, lambda *_: fail("ferry-bridge --demo printed nothing"))
signal.alarm(30)
announced = []
while not any("talk to it" in line for line in announced):
    line = bridge.stdout.readline()
    if not line:
        fail("ferry-bridge --demo ended: " + bridge.stderr.read())
    announced.append(line.rstrip())
    print(line.rstrip())
signal.alarm(0)
listening = [line for line in announced if "listening on" in line][0]
address = listening.rsplit(" ", 1)[1]
host, _, tcp_port = address.rpartition(":")


def session(name, commands):
    """One client: reads the banner and a reading, sends each command and waits for its reply,
    prints every line."""
    client = socket.create_connection((host, int(tcp_port)), timeout=10)
    received = b""

    def read_until(expected, limit=15):
        """Reads until a line holding `expected` arrives (replies come when they come: a loaded
        machine must not lose them), or `limit` seconds passed."""
        nonlocal received
        end = time.time() + limit
        while time.time() < end:
            client.settimeout(max(0.01, end - time.time()))
            try:
                chunk = client.recv(4096)
            except socket.timeout:
                return
            if not chunk:
                return
            received += chunk
            seen = False
            while b"\n" in received:
                line, received = received.split(b"\n", 1)
                text = line.decode(errors="replace").rstrip("\r")
                print("  %s <- %s" % (name, text))
                seen = seen or expected in text
            if seen:
                return

    read_until("temp=")
    for command, expected in commands:
        print("  %s -> %s" % (name, command))
        client.sendall(command.encode() + b"\r")
        read_until(expected)
    client.close()


print("\nclient 1 (as `nc %s %s` would):" % (host, tcp_port))
lines_seen = []
original_print = print


def capture(*args, **kwargs):
    lines_seen.append(" ".join(str(a) for a in args))
    original_print(*args, **kwargs)


print = capture  # noqa: A001 (the demo keeps what it printed, to check it)
session("client 1", [("v", "sensor"), ("r", "temp="), ("help", "commands:")])
print("\nclient 2, after client 1 left (the device is opened again for it):")
session("client 2", [("r", "temp="), ("bogus", "unknown command")])

print("\nclient 3, as a serial port over RFC 2217 (pyserial, python3-serial):")
import serial  # noqa: E402
remote = serial.serial_for_url("rfc2217://%s:%s" % (host, tcp_port), baudrate=115200, timeout=3)
remote.reset_input_buffer()
remote.write(b"v\r")
for _ in range(4):
    line = remote.readline().decode(errors="replace").rstrip()
    print("  client 3 <- %s" % line)
    if "sensor" in line:
        break
print("  client 3: cts=%s dsr=%s (a pty has no modem lines), %d baud" %
      (remote.cts, remote.dsr, remote.baudrate))
remote.close()

print = original_print  # noqa: A001
transcript = "\n".join(lines_seen)
for expected in ["ferry-bridge demo:", "temp=", "ferry demo sensor 1.0",
                 "commands: v (version)", "? unknown command: bogus", "client 3 <- ferry demo"]:
    if expected not in transcript:
        fail("the exchange lacks %r" % expected)

print("\nstopping the bridge with SIGINT (Ctrl-C):")
interrupt()
try:
    _, errors = bridge.communicate(timeout=30)
except subprocess.TimeoutExpired:
    fail("ferry-bridge did not stop on SIGINT")
print(errors.rstrip())
if bridge.returncode != 0:
    fail("exit status %d" % bridge.returncode)
if not wrapper and "clients: 0 connected, 3 connects" not in errors:
    fail("the statistics above lack the three clients")
print("\ndemo: ok")
