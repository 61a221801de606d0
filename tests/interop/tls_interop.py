#!/usr/bin/python3
"""TLS against peers ferry did not write (Python's ssl and asyncio, the openssl command), over
loopback, with ferry-bridge as ferry's end and a pty as the serial device. Certificates are made
with the openssl command in a temporary directory. Usage: tls_interop.py FERRY_BRIDGE CASE
  python_client    ferry-bridge serial:PTY tls-listen:...:verify=require (mutual TLS): a Python
                   client with a certificate (ssl.SSLContext.wrap_socket) moves 1 MiB each way;
                   an asyncio client too; a client without a certificate and a plaintext client
                   are refused, and the bridge logs who and why
  python_server    ferry-bridge serial:PTY tls:127.0.0.1:PORT against an asyncio TLS echo server
                   (also: a wrong CA is refused with the reason)
  openssl_server   ferry-bridge's client against `openssl s_server`
  openssl_client   `openssl s_client` against ferry-bridge's tls-listen
  rfc2217_over_tls tls-listen:...:rfc2217: telnet COM-PORT-OPTION over TLS sets the pty's baud
Prints "tls_interop CASE: ok" on success."""

import asyncio
import hashlib
import os
import random
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import termios
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import bridge_harness  # noqa: E402
from bridge_harness import (DEADLINE, Bridge, Device, fail, free_port,  # noqa: E402
                            listening, read_some, wait_for)

BINARY = sys.argv[1]
CASE = sys.argv[2]
bridge_harness.NAME = "tls_interop " + CASE
bridge_harness.BINARY = BINARY
os.environ["FERRY_LOG"] = "info"  # the bridge says when it has joined its sides


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class Pki:
    """A CA, a server certificate (localhost, 127.0.0.1), a client certificate, and a CA that
    signed neither, all P-256."""

    def __init__(self, directory):
        self.dir = directory
        p = lambda name: os.path.join(directory, name)  # noqa: E731
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ("ca", "other-ca"):
            openssl("req", "-x509", *ec, "-keyout", p(ca + ".key"), "-out", p(ca + ".pem"),
                    "-days", "2", "-subj", "/CN=tls interop " + ca)
        for name, cn, ext in (("server", "localhost",
                               "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                               "extendedKeyUsage=serverAuth\n"),
                              ("client", "interop client", "extendedKeyUsage=clientAuth\n")):
            with open(p(name + ".ext"), "w") as f:
                f.write(ext)
            openssl("req", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"),
                    "-subj", "/CN=" + cn)
            openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"),
                    "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p(name + ".pem"),
                    "-days", "2", "-extfile", p(name + ".ext"))
        self.ca, self.other_ca = p("ca.pem"), p("other-ca.pem")
        self.server_cert, self.server_key = p("server.pem"), p("server.key")
        self.client_cert, self.client_key = p("client.pem"), p("client.key")


def client_context(pki, with_certificate=True):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki.ca)
    if with_certificate:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


def exchange(tls, device, size, seed):
    """size random bytes each way between a TLS socket and the pty, checked by hash. One thread:
    an SSL object must not be read and written from two threads at once."""
    to_device = random.Random(seed).randbytes(size)
    to_client = random.Random(seed + 1).randbytes(size)
    got_device = hashlib.sha256()
    got_client = hashlib.sha256()
    n_device = n_client = sent_tls = sent_pty = 0
    retry = ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError
    tls.setblocking(False)
    end = time.time() + DEADLINE
    while (n_device < size or n_client < size) and time.time() < end:
        moved = False
        if sent_tls < size:
            try:
                sent_tls += tls.send(to_device[sent_tls:sent_tls + 16384])
                moved = True
            except retry:
                pass
        if sent_pty < size:
            try:
                sent_pty += os.write(device.master, to_client[sent_pty:sent_pty + 4096])
                moved = True
            except BlockingIOError:
                pass
        try:
            chunk = os.read(device.master, 65536)
            got_device.update(chunk)
            n_device += len(chunk)
            moved = True
        except BlockingIOError:
            pass
        try:
            chunk = tls.recv(65536)
            if not chunk:
                fail("the TLS connection ended at %d/%d" % (n_client, size))
            got_client.update(chunk)
            n_client += len(chunk)
            moved = True
        except retry:
            pass
        if not moved:
            select.select([tls, device.master], [tls, device.master], [], 0.01)
    tls.setblocking(True)
    if n_device != size or n_client != size:
        fail("transfer stalled: %d/%d to the device, %d/%d to the client"
             % (n_device, size, n_client, size))
    if got_device.digest() != hashlib.sha256(to_device).digest() or \
            got_client.digest() != hashlib.sha256(to_client).digest():
        fail("the bytes arrived altered")


def connect_tls(port, context, server_hostname="localhost"):
    raw = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    return context.wrap_socket(raw, server_hostname=server_hostname)


def wait_joined(bridge):
    """Waits until a bridge of two connecting sides has opened both (bytes written to the pty
    before the bridge opens it would be discarded)."""
    wait_for("the bridge to join its sides", lambda: ": joined" in bridge.stderr())


def serving_bridge(pki, device, extra=""):
    return Bridge("serial:" + device.name,
                  "tls-listen:0:cert=%s:key=%s:ca=%s:verify=require%s"
                  % (pki.server_cert, pki.server_key, pki.ca, extra)).wait_listening()


def case_python_client(pki):
    device = Device()
    bridge = serving_bridge(pki, device)
    with connect_tls(bridge.port, client_context(pki)) as tls:
        if tls.version() != "TLSv1.3":
            fail("negotiated %s" % tls.version())
        # The device opens once the client is admitted: one line each way first, so that no
        # byte is written to the pty before the bridge holds it.
        tls.sendall(b"ready\n")
        got = b""
        end = time.time() + DEADLINE
        while b"ready\n" not in got and time.time() < end:
            got += read_some(device.master, 0.1)
        if got != b"ready\n":
            fail("the device read %r instead of the client's first line" % got)
        os.write(device.master, b"go\n")
        tls.settimeout(DEADLINE)
        if tls.recv(3) != b"go\n":
            fail("the client did not get the device's first line")
        exchange(tls, device, 1 << 20, 1)
        tls.unwrap()  # close_notify both ways: ferry answers it
    # The same through asyncio's TLS.

    async def asyncio_client():
        reader, writer = await asyncio.open_connection("127.0.0.1", bridge.port,
                                                       ssl=client_context(pki),
                                                       server_hostname="localhost")
        writer.write(b"from asyncio\n")
        await writer.drain()
        end = time.time() + DEADLINE
        got = b""
        while b"from asyncio\n" not in got and time.time() < end:
            got += read_some(device.master, 0.1)
        if b"from asyncio\n" not in got:
            fail("asyncio's bytes did not reach the device: %r" % got)
        os.write(device.master, b"to asyncio\n")
        line = await asyncio.wait_for(reader.readline(), DEADLINE)
        if line != b"to asyncio\n":
            fail("asyncio client read %r" % line)
        writer.close()
        await writer.wait_closed()

    asyncio.run(asyncio_client())
    # Refused: a client without a certificate (TLS 1.3 tells it at its first read), and a
    # plaintext one. Neither reaches the device.
    try:
        with connect_tls(bridge.port, client_context(pki, with_certificate=False)) as tls:
            tls.sendall(b"no certificate\n")
            if tls.recv(100):
                fail("a client without a certificate was served")
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        pass
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=DEADLINE) as plain:
        plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
        plain.settimeout(DEADLINE)
        try:
            while plain.recv(100):
                pass
        except ConnectionResetError:
            pass
    leaked = read_some(device.master, 0.3)
    if b"no certificate" in leaked or b"GET /" in leaked:
        fail("a refused client's bytes reached the device: %r" % leaked)
    code, stderr = bridge.stop()
    for reason in ("peer did not return a certificate", "the peer does not speak TLS"):
        if "refused 127.0.0.1:" not in stderr or reason not in stderr:
            fail("the bridge did not log the refusal (%s): %s" % (reason, stderr))


def case_python_server(pki):
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.server_cert, pki.server_key)
    ready = threading.Event()
    state = {}

    async def serve():
        async def echo(reader, writer):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
        state["port"] = server.sockets[0].getsockname()[1]
        state["loop"] = asyncio.get_running_loop()
        state["stop"] = asyncio.Event()
        ready.set()
        await state["stop"].wait()
        server.close()

    thread = threading.Thread(target=lambda: asyncio.run(serve()))
    thread.start()
    ready.wait(DEADLINE)
    try:
        device = Device()
        bridge = Bridge("serial:" + device.name,
                        "tls:127.0.0.1:%d:ca=%s:servername=localhost" % (state["port"], pki.ca))
        wait_joined(bridge)
        message = random.Random(7).randbytes(200000)
        sent = 0
        got = b""
        end = time.time() + DEADLINE
        while len(got) < len(message) and time.time() < end:
            if sent < len(message):
                try:
                    sent += os.write(device.master, message[sent:sent + 4096])
                except BlockingIOError:
                    pass
            got += read_some(device.master, 0.01, 1)
        if got != message:
            fail("the echo through asyncio's TLS server came back as %d/%d bytes%s"
                 % (len(got), len(message), "" if len(got) < len(message) else ", altered"))
        bridge.stop()
        # A server certificate from a CA the client does not trust: refused, with the reason.
        wrong = Bridge("serial:" + device.name,
                       "tls:127.0.0.1:%d:ca=%s" % (state["port"], pki.other_ca))
        os.write(device.master, b"x")
        wait_for("the refusal", lambda: "unable to get local issuer certificate"
                 in wrong.stderr())
        wrong.stop()
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(DEADLINE)


def openssl_round_trip(device, peer, to_peer, from_peer):
    """Device -> ferry -> TLS -> openssl's stdout; openssl's stdin -> TLS -> ferry -> device."""
    os.write(device.master, to_peer)
    os.set_blocking(peer.stdout.fileno(), False)
    got = b""
    end = time.time() + DEADLINE
    while to_peer not in got and time.time() < end:
        got += read_some(peer.stdout.fileno(), 0.1)
    if to_peer not in got:
        fail("openssl did not receive %r (got %r)" % (to_peer, got))
    peer.stdin.write(from_peer)
    peer.stdin.flush()
    got = b""
    end = time.time() + DEADLINE
    while from_peer not in got and time.time() < end:
        got += read_some(device.master, 0.1)
    if from_peer not in got:
        fail("the device did not receive %r (got %r)" % (from_peer, got))


def case_openssl_server(pki):
    port = free_port()
    server = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:%d" % port,
                               "-cert", pki.server_cert, "-key", pki.server_key,
                               "-naccept", "1"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for("s_server", lambda: listening(port))
        device = Device()
        bridge = Bridge("serial:" + device.name,
                        "tls:127.0.0.1:%d:ca=%s" % (port, pki.ca))
        wait_joined(bridge)
        openssl_round_trip(device, server, b"hello s_server\n", b"hello ferry\n")
        bridge.stop()
    finally:
        server.kill()
        server.wait()


def case_openssl_client(pki):
    device = Device()
    bridge = Bridge("serial:" + device.name,
                    "tls-listen:0:cert=%s:key=%s" % (pki.server_cert, pki.server_key))
    bridge.wait_listening()
    client = subprocess.Popen(["openssl", "s_client", "-quiet", "-connect",
                               "127.0.0.1:%d" % bridge.port, "-CAfile", pki.ca,
                               "-verify_return_error", "-verify_hostname", "localhost"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        # s_client sends nothing until it has input: its first line opens the device.
        client.stdin.write(b"hello ferry\n")
        client.stdin.flush()
        got = b""
        end = time.time() + DEADLINE
        while b"hello ferry\n" not in got and time.time() < end:
            got += read_some(device.master, 0.1)
        if b"hello ferry\n" not in got:
            fail("the device did not receive s_client's line (got %r)" % got)
        os.write(device.master, b"hello s_client\n")
        os.set_blocking(client.stdout.fileno(), False)
        got = b""
        end = time.time() + DEADLINE
        while b"hello s_client\n" not in got and time.time() < end:
            got += read_some(client.stdout.fileno(), 0.1)
        if b"hello s_client\n" not in got:
            fail("s_client did not receive the device's line (got %r)" % got)
    finally:
        client.kill()
        client.wait()
    bridge.stop()


def case_rfc2217_over_tls(pki):
    device = Device()
    bridge = serving_bridge(pki, device, ":rfc2217")
    with connect_tls(bridge.port, client_context(pki)) as tls:
        # WILL COM-PORT-OPTION, then SET-BAUDRATE 9600.
        tls.sendall(bytes([255, 251, 44]) + bytes([255, 250, 44, 1]) +
                    (9600).to_bytes(4, "big") + bytes([255, 240]))
        wait_for("the pty to be set to 9600 baud",
                 lambda: termios.tcgetattr(device.master)[5] == termios.B9600)
        answer = b""
        end = time.time() + DEADLINE
        while bytes([255, 250, 44, 101]) not in answer and time.time() < end:
            tls.settimeout(0.1)
            try:
                answer += tls.recv(4096)
            except socket.timeout:
                pass
        if bytes([255, 250, 44, 101]) not in answer:
            fail("no SET-BAUDRATE answer over TLS: %r" % answer)
    bridge.stop()


def main():
    with tempfile.TemporaryDirectory() as directory:
        pki = Pki(directory)
        {"python_client": case_python_client, "python_server": case_python_server,
         "openssl_server": case_openssl_server, "openssl_client": case_openssl_client,
         "rfc2217_over_tls": case_rfc2217_over_tls}[CASE](pki)
    print("tls_interop %s: ok" % CASE)


main()
