"""What the ferry-bridge tests share: a pty playing the serial device, ferry-bridge run in the
background, reads with deadlines, and a checksummed two-way pump. Imported by
tests/samples/bridge_tool.py and tests/interop/rfc2217_interop.py; set NAME and BINARY first."""

import hashlib
import os
import random
import select
import signal
import socket
import subprocess
import tempfile
import time
import tty

NAME = "bridge test"  # shown in failures
BINARY = None  # the ferry-bridge executable
DEADLINE = 90  # seconds any one wait may take, however slow the build (sanitizers)


def fail(message):
    raise SystemExit("%s: FAILED: %s" % (NAME, message))


class Device:
    """A pty whose terminal end the bridge opens as serial:NAME; the test is the device."""

    def __init__(self, link=None):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.name = os.ttyname(self.slave)
        os.set_blocking(self.master, False)
        self.link = link
        if link:
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(self.name, link)

    def unplug(self):
        os.close(self.master)
        os.close(self.slave)
        if self.link:
            os.unlink(self.link)


class Bridge:
    """ferry-bridge in the background; its stdout line says where it listens."""

    def __init__(self, *args):
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([BINARY, *args], stdout=subprocess.PIPE,
                                        stderr=self.errors, text=True)
        self.port = None

    def wait_listening(self):
        ready, _, _ = select.select([self.process.stdout], [], [], DEADLINE)
        if not ready:
            fail("ferry-bridge did not start listening")
        line = self.process.stdout.readline()
        if "listening on" not in line:
            fail("unexpected first line: %r; stderr: %s" % (line, self.stderr()))
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def connect(self, rcvbuf=None):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        client.connect(("127.0.0.1", self.port))
        client.setblocking(False)
        return client

    def stop(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)
        try:
            code = self.process.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            fail("ferry-bridge did not stop on signal %d" % signum)
        return code, self.stderr()

    def stderr(self):
        self.errors.seek(0)
        return self.errors.read()


def free_port():
    """A TCP port on 127.0.0.1 nothing listens on (for a peer that must be told one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """True once a socket listens on 127.0.0.1:port (from /proc/net/tcp, without connecting)."""
    with open("/proc/net/tcp") as table:
        for row in table.readlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            if local == "0100007F:%04X" % port and state == "0A":
                return True
    return False


def wait_for(what, predicate, timeout=DEADLINE):
    """Polls `predicate` until true; fails naming `what` after the timeout."""
    end = time.time() + timeout
    while not predicate():
        if time.time() > end:
            fail("timed out waiting for " + what)
        time.sleep(0.01)


def read_some(fd_or_socket, timeout=DEADLINE, want=1):
    """Reads until `want` bytes or the timeout; returns what came (b"" at EOF)."""
    got = b""
    end = time.time() + timeout
    while len(got) < want and time.time() < end:
        ready, _, _ = select.select([fd_or_socket], [], [], 0.05)
        if not ready:
            continue
        try:
            chunk = fd_or_socket.recv(65536) if isinstance(fd_or_socket, socket.socket) \
                else os.read(fd_or_socket, 65536)
        except (BlockingIOError, InterruptedError):
            continue
        except (ConnectionResetError, OSError):
            return got
        if not chunk:
            return got
        got += chunk
    return got


def sees_eof(sock, timeout=DEADLINE):
    end = time.time() + timeout
    while time.time() < end:
        ready, _, _ = select.select([sock], [], [], 0.05)
        if ready:
            try:
                if not sock.recv(65536):
                    return True
            except (ConnectionResetError, OSError):
                return True
    return False


class Stream:
    """Random bytes to send over `out` and a hash of what arrives on `inp`."""

    def __init__(self, size, seed):
        self.data = random.Random(seed).randbytes(size)
        self.sent = 0
        self.received = 0
        self.hash = hashlib.sha256()
        self.expected_hash = hashlib.sha256(self.data).hexdigest()


def pump(pairs, timeout=DEADLINE * 2, read_limit=None):
    """pairs: (writer, stream, reader, stream_it_receives). Moves bytes until every stream has
    arrived in full; each reader takes at most read_limit bytes a round (a slow reader)."""
    end = time.time() + timeout

    def write(endpoint, data):
        if isinstance(endpoint, socket.socket):
            return endpoint.send(data)
        return os.write(endpoint, data)

    def read(endpoint, n):
        if isinstance(endpoint, socket.socket):
            return endpoint.recv(n)
        return os.read(endpoint, n)

    while any(s.received < len(s.data) for _, s, _, _ in pairs):
        if time.time() > end:
            fail("transfer stalled: " + ", ".join("%d/%d" % (s.received, len(s.data))
                                                  for _, s, _, _ in pairs))
        writers = [w for w, s, _, _ in pairs if s.sent < len(s.data)]
        readers = [r for _, _, r, _ in pairs]
        ready_r, ready_w, _ = select.select(readers, writers, [], 0.05)
        for writer, stream, _, _ in pairs:
            if writer in ready_w and stream.sent < len(stream.data):
                try:
                    stream.sent += write(writer, stream.data[stream.sent:stream.sent + 65536])
                except BlockingIOError:
                    pass
        for _, _, reader, stream in pairs:
            if reader in ready_r:
                try:
                    chunk = read(reader, read_limit or 262144)
                except BlockingIOError:
                    continue
                if not chunk:
                    fail("a side ended early at %d/%d" % (stream.received, len(stream.data)))
                stream.hash.update(chunk)
                stream.received += len(chunk)
        if read_limit:
            time.sleep(0.002)
    for _, stream, _, _ in pairs:
        if stream.hash.hexdigest() != stream.expected_hash:
            fail("the bytes arrived altered")
