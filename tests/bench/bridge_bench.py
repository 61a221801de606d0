#!/usr/bin/python3
"""Bridge benchmark: a serial port (a pty the benchmark plays) bridged to a TCP client on
127.0.0.1 by ferry-bridge, socat and ser2net, interleaved round by round in the same run.

For each: throughput pty -> TCP and TCP -> pty (MiB/s), the bridge process's CPU per MiB moved
(/proc/PID/stat utime + stime), and the 1-byte round-trip latency through the bridge (the
benchmark echoes on the pty). Prints medians with ranges and ratios against socat.

Usage: bridge_bench.py FERRY_BRIDGE [--rounds 5] [--mib 64] [--round-trips 2000]
       [--only ferry-bridge|socat|ser2net]"""

import argparse
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tty

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Contender:
    def __init__(self, name, binary):
        self.name = name
        self.binary = binary

    def start(self, pty_path, port, workdir):
        if self.name == "ferry-bridge":
            argv = [self.binary, "serial:%s:115200n81:exclusive=false" % pty_path,
                    "tcp-listen:%d" % port, "--no-statistics"]
        elif self.name == "socat":
            argv = ["socat", "%s,raw,echo=0,b115200" % pty_path,
                    "tcp-listen:%d,bind=127.0.0.1,reuseaddr" % port]
        else:
            config = os.path.join(workdir, "ser2net.yaml")
            with open(config, "w") as f:
                f.write("connection: &bench\n"
                        "  accepter: tcp,127.0.0.1,%d\n"
                        "  connector: serialdev,%s,115200n81,local\n" % (port, pty_path))
            argv = ["ser2net", "-n", "-d", "-c", config]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        end = time.time() + 10
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                if time.time() > end or self.process.poll() is not None:
                    raise SystemExit("%s did not start listening" % self.name)
                time.sleep(0.02)
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def move(source, sink, total, write, read):
    """Writes `total` bytes into `source` and reads them from `sink`; returns seconds."""
    block = os.urandom(65536)
    sent = received = 0
    started = time.perf_counter()
    deadline = time.time() + 120
    while received < total:
        if time.time() > deadline:
            raise SystemExit("transfer stalled at %d of %d bytes" % (received, total))
        readable, writable, _ = select.select([sink], [source] if sent < total else [], [], 1)
        if writable:
            try:
                sent += write(source, block[:min(len(block), total - sent)])
            except BlockingIOError:
                pass
        if readable:
            try:
                received += len(read(sink, 262144))
            except BlockingIOError:
                pass
    return time.perf_counter() - started


def run_round(contender, args, results):
    master, slave = os.openpty()
    tty.setraw(slave)
    pty_path = os.ttyname(slave)
    os.set_blocking(master, False)
    workdir = tempfile.mkdtemp()
    port = free_port()
    client = contender.start(pty_path, port, workdir)
    time.sleep(0.3)  # the bridge opened the port
    total = args.mib << 20
    pid = contender.process.pid
    r = results.setdefault(contender.name, {"to_tcp": [], "to_pty": [], "cpu": [], "rtt": []})

    def pty_write(fd, data):
        return os.write(fd, data)

    def pty_read(fd, n):
        return os.read(fd, n)

    def sock_write(s, data):
        return s.send(data)

    def sock_read(s, n):
        return s.recv(n)

    cpu_before = cpu_seconds(pid)
    seconds = move(master, client, total, pty_write, sock_read)
    r["to_tcp"].append(args.mib / seconds)
    seconds = move(client, master, total, sock_write, pty_read)
    r["to_pty"].append(args.mib / seconds)
    r["cpu"].append((cpu_seconds(pid) - cpu_before) / (2 * args.mib) * 1000.0)  # ms per MiB

    # 1-byte round trips: client -> bridge -> pty (echoed here) -> bridge -> client.
    times = []
    for _ in range(args.round_trips):
        started = time.perf_counter()
        client.send(b"x")
        select.select([master], [], [], 5)
        os.write(master, os.read(master, 16))
        select.select([client], [], [], 5)
        client.recv(16)
        times.append(time.perf_counter() - started)
    r["rtt"].append(statistics.median(times) * 1e6)

    client.close()
    contender.stop()
    os.close(master)
    os.close(slave)
    shutil.rmtree(workdir, ignore_errors=True)


def summary(values):
    return "%8.1f (%.1f-%.1f)" % (statistics.median(values), min(values), max(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ferry_bridge")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--only")
    args = parser.parse_args()
    contenders = [Contender("ferry-bridge", args.ferry_bridge), Contender("socat", "socat")]
    if shutil.which("ser2net"):
        contenders.append(Contender("ser2net", "ser2net"))
    else:
        print("ser2net is not installed (apt-get install ser2net): left out")
    if args.only:
        contenders = [c for c in contenders if c.name == args.only]
    print("bridge benchmark: pty <-> TCP on 127.0.0.1, %d MiB each way, %d round trips, "
          "%d rounds (interleaved)" % (args.mib, args.round_trips, args.rounds))
    results = {}
    for round_number in range(args.rounds):
        order = contenders[round_number % len(contenders):] + \
            contenders[:round_number % len(contenders)]
        for contender in order:
            run_round(contender, args, results)
            r = results[contender.name]
            print("  round %d %-12s pty->tcp %7.1f MiB/s  tcp->pty %7.1f MiB/s  cpu %6.2f ms/MiB"
                  "  rtt %7.1f us" % (round_number + 1, contender.name, r["to_tcp"][-1],
                                      r["to_pty"][-1], r["cpu"][-1], r["rtt"][-1]))
            sys.stdout.flush()
    print("\nmedian (range)       pty->tcp MiB/s       tcp->pty MiB/s       CPU ms/MiB"
          "          1-byte rtt us")
    for name, r in results.items():
        print("%-14s %s %s %s %s" % (name, summary(r["to_tcp"]), summary(r["to_pty"]),
                                      summary(r["cpu"]), summary(r["rtt"])))
    if "socat" in results:
        base = results["socat"]
        print("\nratios against socat (per round, median): throughput higher is better, "
              "CPU per MiB and latency lower is better")
        for name, r in results.items():
            if name == "socat":
                continue
            ratio = lambda key: statistics.median(a / b for a, b in zip(r[key], base[key]))
            print("%-14s pty->tcp %.2fx  tcp->pty %.2fx  cpu/MiB %.2fx  rtt %.2fx"
                  % (name, ratio("to_tcp"), ratio("to_pty"), ratio("cpu"), ratio("rtt")))


main()
