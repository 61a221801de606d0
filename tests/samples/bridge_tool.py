#!/usr/bin/python3
"""ferry-bridge driven as its users drive it: a pty plays the serial device, sockets play the
network clients. Usage: bridge_tool.py FERRY_BRIDGE CASE.
Prints "bridge_tool CASE: ok" on success; any failure raises with what was expected."""

import hashlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import tty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import bridge_harness  # noqa: E402
from bridge_harness import (DEADLINE, Bridge, Device, Stream, fail, pump, read_some,  # noqa: E402
                            sees_eof)

BINARY = sys.argv[1]
CASE = sys.argv[2]
bridge_harness.NAME = "bridge_tool " + CASE
bridge_harness.BINARY = BINARY


def case_bulk():
    device = Device()
    bridge = Bridge("serial:" + device.name, "tcp-listen:0").wait_listening()
    client = bridge.connect()
    size = 64 << 20
    to_net, to_dev = Stream(size, 1), Stream(size, 2)
    pump([(device.master, to_net, client, to_net), (client, to_dev, device.master, to_dev)])
    client.close()
    code, errors = bridge.stop()
    if code != 0 or "dev->net: %d bytes read" % size not in errors:
        fail("exit %d, statistics: %s" % (code, errors))


def case_slow_client():
    device = Device()
    bridge = Bridge("serial:" + device.name, "tcp-listen:0").wait_listening()
    client = bridge.connect(rcvbuf=32768)
    stream = Stream(8 << 20, 3)
    pump([(device.master, stream, client, stream)], read_limit=16384)
    code, errors = bridge.stop()
    if "0 dropped" not in errors.split("dev->net:")[1].split("\n")[0]:
        fail("bytes were dropped: " + errors)


def case_modes():
    device = Device()
    bridge = Bridge("serial:" + device.name, "tcp-listen:0",
                    "--banner", "hello \\a, this is \\d at \\s\\r\\n").wait_listening()
    first = bridge.connect()
    banner = read_some(first, want=10)
    if not banner.startswith(b"hello 127.0.0.1:") or b"9600 8N1\r\n" not in banner:
        fail("banner: %r" % banner)
    second = bridge.connect()
    if read_some(second, want=21) != b"port already in use\r\n" or not sees_eof(second):
        fail("exclusive mode let a second client in")
    bridge.stop()

    device = Device()
    bridge = Bridge("serial:" + device.name, "tcp-listen:0", "--mode", "kick-old").wait_listening()
    old = bridge.connect()
    time.sleep(0.2)
    new = bridge.connect()
    if not sees_eof(old):
        fail("kick-old: the old client got no EOF")
    os.write(device.master, b"to the new one")
    if read_some(new, want=14) != b"to the new one":
        fail("kick-old: the new client does not get the device's output")
    bridge.stop()


def case_shared():
    device = Device()
    bridge = Bridge("serial:" + device.name, "tcp-listen:0", "--mode", "shared",
                    "--max-buffer", "262144", "--max-connections", "3").wait_listening()
    readers = [bridge.connect(), bridge.connect()]
    stalled = bridge.connect(rcvbuf=4096)
    time.sleep(0.3)
    fourth = bridge.connect()
    if read_some(fourth, want=27) != b"too many connections (3)\r\n":
        fail("max-connections: the fourth client was not refused")
    streams = [Stream(8 << 20, 4)]
    # The same bytes reach both readers; the stalled client never reads.
    data = streams[0].data
    hashes = [hashlib.sha256(), hashlib.sha256()]
    counts = [0, 0]
    sent = 0
    end = time.time() + DEADLINE * 2
    while min(counts) < len(data):
        if time.time() > end:
            fail("shared: readers got %s of %d (%d written to the device); bridge stderr: %s"
                 % (counts, len(data), sent, bridge.stderr()))
        _, writable, _ = select.select([], [device.master], [], 0.01)
        if writable and sent < len(data):
            try:
                sent += os.write(device.master, data[sent:sent + 65536])
            except BlockingIOError:
                pass
        for i, reader in enumerate(readers):
            try:
                chunk = reader.recv(262144)
            except BlockingIOError:
                continue
            if not chunk:
                fail("shared: a reading client was closed")
            hashes[i].update(chunk)
            counts[i] += len(chunk)
    if any(h.hexdigest() != streams[0].expected_hash for h in hashes):
        fail("shared: the readers' bytes arrived altered")
    if not sees_eof(stalled, timeout=5):
        fail("shared: the stalled client was not dropped")
    code, errors = bridge.stop()
    if "1 dropped as stalled" not in errors or "1 refused" not in errors:
        fail("shared: statistics: " + errors)


def case_idle_and_allow():
    device = Device()
    bridge = Bridge("serial:" + device.name, "tcp-listen:0", "--idle-timeout", "1",
                    "--mode", "shared").wait_listening()
    client = bridge.connect()
    started = time.time()
    if not sees_eof(client, timeout=10) or time.time() - started < 0.9:
        fail("idle timeout: not closed after about a second")
    bridge.stop()

    device = Device()
    bridge = Bridge("serial:" + device.name, "tcp-listen:0", "--allow", "10.0.0.0/8",
                    "--allow", "fd00::/8").wait_listening()
    client = bridge.connect()
    line = read_some(client, want=40, timeout=10)
    if not line.startswith(b"access denied: 127.0.0.1:") or \
            not line.endswith(b" is not in the allowlist\r\n") or not sees_eof(client):
        fail("allowlist: %r" % line)
    code, errors = bridge.stop()
    if "refused 127.0.0.1" not in errors:
        fail("allowlist: the refusal was not logged: " + errors)


def case_sigterm_flushes():
    """SIGTERM while a client sends and the device is not reading: what the bridge had read
    reaches the device before it exits (what the kernel still held was never accepted)."""
    device = Device()
    bridge = Bridge("serial:" + device.name, "tcp-listen:0").wait_listening()
    client = bridge.connect()
    stream = Stream(4 << 20, 5)
    end = time.time() + 2
    while time.time() < end and stream.sent < len(stream.data):
        try:
            stream.sent += client.send(stream.data[stream.sent:stream.sent + 65536])
        except BlockingIOError:
            time.sleep(0.01)  # the device reads nothing: back-pressure reaches the client
    bridge.process.send_signal(signal.SIGTERM)
    got = b""
    while bridge.process.poll() is None or select.select([device.master], [], [], 0.2)[0]:
        got += read_some(device.master, timeout=0.2, want=1 << 30)
    code = bridge.process.wait(DEADLINE)
    errors = bridge.stderr()
    line = errors.split("net->dev: ")[1].split("\n")[0]
    accepted = int(line.split(" bytes read")[0])
    written = int(line.split(", ")[1].split(" written")[0])
    if code != 0 or accepted == 0 or written != accepted or got != stream.data[:accepted]:
        fail("SIGTERM: exit %d, accepted %d, written %d, the device got %d bytes%s: %s"
             % (code, accepted, written, len(got),
                "" if got == stream.data[:len(got)] else " (altered)", errors))


def case_replug():
    directory = tempfile.mkdtemp()
    link = os.path.join(directory, "ttyUSB0")
    device = Device(link)
    bridge = Bridge("serial:" + link, "tcp-listen:0").wait_listening()
    client = bridge.connect()
    time.sleep(0.3)
    os.write(device.master, b"before")
    if read_some(client, want=6) != b"before":
        fail("replug: nothing before the unplug")
    device.unplug()
    time.sleep(0.5)
    device = Device(link)  # plugged back in: a new pty under the same name
    deadline = time.time() + DEADLINE
    got = b""
    while b"after" not in got and time.time() < deadline:
        try:
            os.write(device.master, b"after")
        except OSError:
            pass
        got += read_some(client, timeout=0.5, want=5)
    if b"after" not in got:
        fail("replug: the bridge did not carry on: %r" % got)
    code, errors = bridge.stop()
    if "opened 2 times" not in errors:
        fail("replug: statistics: " + errors)


def case_bad_input():
    for args, expected in [
        (["serial:/dev/ttyUSB0:bauds=9600", "tcp-listen:0"], "unknown option 'bauds=9600'"),
        (["tpc:localhost:80", "stdio"], "unknown kind 'tpc'"),
        (["tcp-listen:0", "tcp-listen:0"], "listen: one side must be"),
        (["serial:/dev/ttyUSB0", "tcp-listen:0", "--allow", "10.0.0.300/8"],
         "is not an IPv4 or IPv6 address"),
        (["serial:/dev/ttyUSB0", "tcp-listen:0", "--open-string", "\\q"], "bad escape \\q"),
        (["serial:/dev/ttyUSB0"], "two endpoints are needed"),
        (["serial:/dev/ttyUSB0", "serial:/dev/ttyUSB1", "--mode", "shared"],
         "need a listening side"),
        (["serial:/dev/ferry-no-such-port", "stdio", "--no-reconnect"],
         "no such serial port: /dev/ferry-no-such-port"),
    ]:
        result = subprocess.run([BINARY, *args], capture_output=True, text=True,
                                stdin=subprocess.PIPE, timeout=DEADLINE)
        if result.returncode == 0 or expected not in result.stderr:
            fail("%s: exit %d, stderr %r (expected %r)" % (args, result.returncode,
                                                          result.stderr, expected))


def case_serial_to_serial():
    """Two boards: two pty pairs whose device ends the test plays, 16 MiB each way at once."""
    one, two = Device(), Device()
    bridge = Bridge("serial:" + one.name + ":115200n81", "serial:" + two.name + ":115200n81",
                    "--no-statistics")
    time.sleep(0.5)
    size = 16 << 20
    to_two, to_one = Stream(size, 6), Stream(size, 7)
    pump([(one.master, to_two, two.master, to_two), (two.master, to_one, one.master, to_one)])
    code, errors = bridge.stop()
    if code != 0:
        fail("serial to serial: exit %d: %s" % (code, errors))


def case_exec():
    """A board joined to a child process, as `ferry-bridge serial:/dev/ttyUSB0 exec:'python3 -u
    decode.py'`: what the device sends is the child's stdin, the child's stdout goes back to it;
    4 MiB round trip through cat; the bridge's end ends the child; a command's end ends it."""
    device = Device()
    # stdbuf: tr's output to a pipe is line-buffered, not held until a block fills.
    bridge = Bridge("serial:" + device.name, "exec:stdbuf -oL tr a-z A-Z", "--no-statistics")
    os.write(device.master, b"hello from the board\n")
    got = read_some(device.master, want=21)
    if got != b"HELLO FROM THE BOARD\n":
        fail("through tr: %r; stderr: %s" % (got, bridge.stderr()))
    code, errors = bridge.stop()
    if code != 0:
        fail("exec: exit %d: %s" % (code, errors))

    device = Device()
    bridge = Bridge("serial:" + device.name, "exec:cat", "--no-statistics")
    size = 4 << 20
    round_trip = Stream(size, 10)
    pump([(device.master, round_trip, device.master, round_trip)])
    children = subprocess.run(["ps", "--ppid", str(bridge.process.pid), "-o", "pid="],
                              capture_output=True, text=True).stdout.split()
    code, errors = bridge.stop()
    if code != 0 or len(children) != 1:
        fail("exec cat: exit %d, children %r: %s" % (code, children, errors))
    end = time.time() + DEADLINE
    while os.path.exists("/proc/" + children[0]) and time.time() < end:
        time.sleep(0.05)
    if os.path.exists("/proc/" + children[0]):
        fail("the child outlived the bridge")

    # A command that ends at once ends the bridge: one bridge made, no restarts.
    device = Device()
    bridge = Bridge("serial:" + device.name, "exec:exit 3")
    try:
        code = bridge.process.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        bridge.process.kill()
        fail("the bridge outlived its exec side: %s" % bridge.stderr())
    if code != 0 or "bridges made: 1\n" not in bridge.stderr():
        fail("a command that ended: exit %d: %s" % (code, bridge.stderr()))


def socat_pair(directory, name):
    """socat joining two new ptys at links NAME-a and NAME-b (it relays both ways in one loop,
    with blocking writes: while one write waits, it reads nothing)."""
    a, b = os.path.join(directory, name + "-a"), os.path.join(directory, name + "-b")
    process = subprocess.Popen(["socat", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + DEADLINE
    while not (os.path.exists(a) and os.path.exists(b)):
        if time.time() > end:
            fail("socat made no pty pair")
        time.sleep(0.02)
    return process, a, b


def open_raw(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


def case_socat_coupling():
    """4 MiB each way, unpaced, through two socat pty pairs and the bridge between them: each
    socat stops reading while its write blocks, so plain back-pressure would deadlock; the
    bridge keeps reading into its bounded buffer (docs/bridge.md). A plain `socat A B` in the
    bridge's place stalls here after a few hundred KiB."""
    directory = tempfile.mkdtemp()
    first, first_near, first_far = socat_pair(directory, "one")
    second, second_near, second_far = socat_pair(directory, "two")
    bridge = Bridge("serial:" + first_near, "serial:" + second_near, "--no-statistics")
    time.sleep(0.5)
    left, right = open_raw(first_far), open_raw(second_far)
    size = 4 << 20
    to_right, to_left = Stream(size, 8), Stream(size, 9)
    try:
        pump([(left, to_right, right, to_right), (right, to_left, left, to_left)])
    finally:
        # SIGKILL: socat 1.7.4's SIGTERM handler calls exit() and now and then deadlocks there
        # (seen in CI: this case printed ok, then ctest waited 300 s for socat to go).
        for process in (first, second):
            process.kill()
            process.wait()
    code, errors = bridge.stop()
    if code != 0:
        fail("socat coupling: exit %d: %s" % (code, errors))


CASES = {name[len("case_"):]: f for name, f in globals().items() if name.startswith("case_")}
if CASE not in CASES:
    fail("no such case (cases: %s)" % ", ".join(sorted(CASES)))
CASES[CASE]()
print("bridge_tool %s: ok" % CASE)
