#!/usr/bin/python3
"""RFC 2217 against peers ferry did not write (Debian's python3-serial and ser2net), over
loopback, with a pty playing the serial device. Usage: rfc2217_interop.py FERRY_BRIDGE CASE
  pyserial_client  pyserial's rfc2217:// client (strict: no ign_set_control) drives ferry-bridge's
                   server: settings visible with tcgetattr on the pty, DTR/RTS, break, purge,
                   modem lines, 4 MiB of random bytes (0xFF included) each way
  ser2net_server   ferry's client (ferry-bridge rfc2217:...:strict=false) against ser2net's
                   telnet(rfc2217) accepter
  portmanager      ferry's client (strict) against a server built on pyserial's PortManager
Prints "rfc2217_interop CASE: ok" on success."""

import os
import subprocess
import sys
import tempfile
import termios
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import bridge_harness  # noqa: E402
from bridge_harness import (DEADLINE, Bridge, Device, Stream, fail, free_port,  # noqa: E402
                            listening, pump, wait_for)

import serial  # noqa: E402  (python3-serial)
import serial.rfc2217  # noqa: E402

BINARY = sys.argv[1]
CASE = sys.argv[2]
bridge_harness.NAME = "rfc2217_interop " + CASE
bridge_harness.BINARY = BINARY


def line_settings(device):
    """(output speed constant, CSTOPB, CRTSCTS, IXON) as the pty holds them."""
    attrs = termios.tcgetattr(device.master)
    return attrs[5], bool(attrs[2] & termios.CSTOPB), bool(attrs[2] & termios.CRTSCTS), \
        bool(attrs[0] & termios.IXON)


def case_pyserial_client():
    device = Device()
    speed_before = line_settings(device)[0]
    bridge = Bridge("serial:%s:9600n81" % device.name, "tcp-listen:0:rfc2217").wait_listening()
    started = time.time()
    port = serial.serial_for_url("rfc2217://127.0.0.1:%d" % bridge.port, baudrate=9600,
                                 timeout=DEADLINE)
    opened_in = time.time() - started
    if opened_in > 2:
        fail("pyserial took %.1f s to open: some command went unanswered" % opened_in)
    port.baudrate = 115200
    wait_for("115200 baud on the pty", lambda: line_settings(device)[0] == termios.B115200)
    port.stopbits = serial.STOPBITS_TWO
    wait_for("2 stop bits on the pty", lambda: line_settings(device)[1])
    port.rtscts = True
    wait_for("RTS/CTS on the pty", lambda: line_settings(device)[2])
    port.rtscts = False
    port.xonxoff = True
    wait_for("XON/XOFF on the pty", lambda: line_settings(device)[3] and not line_settings(device)[2])
    port.xonxoff = False
    wait_for("no flow control on the pty", lambda: not any(line_settings(device)[2:]))
    # A pty has no modem lines: the server answers with the state asked for, and reports the
    # input lines (all clear) through NOTIFY-MODEMSTATE, as pyserial requires.
    port.dtr = False
    port.rts = False
    port.dtr = True
    port.rts = True
    if port.cts or port.dsr or port.ri or port.cd:
        fail("a pty's modem lines read as set")
    port.send_break(0.05)
    port.reset_input_buffer()
    port.reset_output_buffer()
    # Each way at once: pyserial writes from a thread while the test reads it back.
    size = 4 << 20
    to_device, to_client = Stream(size, 21), Stream(size, 22)
    failure = []

    def client_writes():
        try:
            for offset in range(0, size, 65536):
                port.write(to_device.data[offset:offset + 65536])
        except Exception as e:  # reported by the main thread
            failure.append(e)

    def client_reads():
        try:
            while to_client.received < size:
                chunk = port.read(min(65536, size - to_client.received))
                if not chunk:
                    failure.append("pyserial read timed out at %d" % to_client.received)
                    return
                to_client.hash.update(chunk)
                to_client.received += len(chunk)
        except Exception as e:
            failure.append(e)

    writer = threading.Thread(target=client_writes)
    reader = threading.Thread(target=client_reads)
    writer.start()
    reader.start()
    # The device side: write the client's stream into the pty, read what pyserial sent.
    end = time.time() + DEADLINE * 2
    import select
    while to_device.received < size or to_client.sent < size:
        if time.time() > end or failure:
            fail("transfer: %s; %d/%d to the device, %d/%d to the client" %
                 (failure, to_device.received, size, to_client.received, size))
        want_write = [device.master] if to_client.sent < size else []
        readable, writable, _ = select.select([device.master], want_write, [], 0.05)
        if writable:
            try:
                to_client.sent += os.write(device.master,
                                           to_client.data[to_client.sent:to_client.sent + 4096])
            except BlockingIOError:
                pass
        if readable:
            try:
                chunk = os.read(device.master, 65536)
            except BlockingIOError:
                continue
            to_device.hash.update(chunk)
            to_device.received += len(chunk)
    writer.join(DEADLINE)
    reader.join(DEADLINE)
    if failure:
        fail("transfer: %s" % failure)
    if to_device.hash.hexdigest() != to_device.expected_hash:
        fail("the bytes pyserial sent arrived altered")
    if to_client.hash.hexdigest() != to_client.expected_hash:
        fail("the bytes the device sent reached pyserial altered")
    port.close()
    # The last client gone, the device is closed with the settings it had before (ser2net).
    wait_for("the pty's previous speed back", lambda: line_settings(device)[0] == speed_before)
    stop_cleanly(bridge)
    print("pyserial opened in %.2f s; 4 MiB each way with checksums" % opened_in)


def stop_cleanly(bridge):
    """SIGTERM; ferry-bridge must exit 0."""
    code, errors = bridge.stop()
    if code != 0:
        fail("ferry-bridge exited %d: %s" % (code, errors))


def client_through(bridge, device, baud_constant):
    """A TCP client on ferry-bridge's listening side: the bridge's rfc2217 client has set the
    device's baud rate; 1 MiB each way crosses with checksums (0xFF included)."""
    client = bridge.connect()
    wait_for("the remote port's baud rate on the pty",
             lambda: line_settings(device)[0] == baud_constant)
    size = 1 << 20
    up, down = Stream(size, 31), Stream(size, 32)
    try:
        pump([(client, up, device.master, up), (device.master, down, client, down)])
    except SystemExit:
        print(bridge.stop()[1][-3000:])  # the bridge's statistics say which side stalled
        raise
    client.close()


def case_ser2net_server():
    device = Device()
    port = free_port()
    workdir = tempfile.mkdtemp()
    config = os.path.join(workdir, "ser2net.yaml")
    with open(config, "w") as f:
        f.write("connection: &interop\n"
                "  accepter: telnet(rfc2217),tcp,127.0.0.1,%d\n"
                "  connector: serialdev,%s,9600n81,local\n" % (port, device.name))
    ser2net = subprocess.Popen(["ser2net", "-n", "-d", "-c", config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Not probed by connecting: ser2net would open the device for the probe, and the
        # session it then closes delays the next one.
        wait_for("ser2net to listen", lambda: listening(port) or ser2net.poll() is not None)
        if ser2net.poll() is not None:
            fail("ser2net exited %d" % ser2net.returncode)
        # Non-strict: Debian's ser2net leaves DTR/RTS unanswered on a device without modem
        # lines and answers BREAK OFF wrongly; the client takes what it asked for as applied.
        bridge = Bridge("rfc2217:127.0.0.1:%d:19200n81:strict=false" % port,
                        "tcp-listen:0").wait_listening()
        client_through(bridge, device, termios.B19200)
        stop_cleanly(bridge)
    finally:
        ser2net.terminate()
        ser2net.wait(DEADLINE)


PORTMANAGER_SERVER = r'''
import socket, sys, threading, serial, serial.rfc2217
device, ready = sys.argv[1], sys.argv[2]
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
open(ready, "w").write(str(listener.getsockname()[1]))
connection, _ = listener.accept()
class Connection:
    """What PortManager writes to: a socket with write()."""
    def write(self, data):
        connection.sendall(data)
class PtyPort(serial.Serial):
    """A pty has no modem lines (TIOCMGET fails): report them clear, ignore DTR/RTS."""
    cts = dsr = ri = cd = property(lambda self: False)
    def _update_dtr_state(self):
        pass
    def _update_rts_state(self):
        pass
port = PtyPort(device, timeout=0.05)
manager = serial.rfc2217.PortManager(port, Connection())
def device_to_network():
    while True:
        data = port.read(65536)
        if data:
            connection.sendall(b"".join(manager.escape(data)))
threading.Thread(target=device_to_network, daemon=True).start()
while True:
    data = connection.recv(65536)
    if not data:
        break
    port.write(b"".join(manager.filter(data)))
'''


def case_portmanager():
    device = Device()
    workdir = tempfile.mkdtemp()
    script = os.path.join(workdir, "portmanager.py")
    ready = os.path.join(workdir, "port")
    with open(script, "w") as f:
        f.write(PORTMANAGER_SERVER)
    server = subprocess.Popen(["/usr/bin/python3", script, device.name, ready])
    try:
        wait_for("the PortManager server", lambda: os.path.exists(ready) and
                 os.path.getsize(ready) > 0)
        with open(ready) as f:
            port = int(f.read())
        bridge = Bridge("rfc2217:127.0.0.1:%d:19200n81" % port, "tcp-listen:0").wait_listening()
        client_through(bridge, device, termios.B19200)
        stop_cleanly(bridge)
    finally:
        server.kill()
        server.wait(DEADLINE)


CASES = {name[len("case_"):]: f for name, f in globals().items() if name.startswith("case_")}
if CASE not in CASES:
    fail("no such case (cases: %s)" % ", ".join(sorted(CASES)))
CASES[CASE]()
print("rfc2217_interop %s: ok" % CASE)
