#!/usr/bin/python3
"""Compiles every C++ example in the given Markdown files against an installed ferry, with the
README's own command (`c++ example.cpp $(pkg-config --cflags --libs ferry)`), and runs the ones
that are whole programs.

A ```cpp block is a whole program when it defines main(). Any other block is a fragment and
must be preceded by a wrapper comment saying where it lives; `%%` stands for the block:

    <!-- example-wrapper
    ferry::Task<void> example(ferry::Loop& loop) {
    %%
    }
    -->

A whole program preceded by `<!-- example-run: until-sigint -->` serves until interrupted: it is
sent SIGINT after a second and must then exit 0. Other programs must exit 0 by themselves.
Exits non-zero naming each example (file:line) that failed to compile or run.
"""
import argparse
import concurrent.futures
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

BLOCK = re.compile(r"^```cpp\n(.*?)^```", re.M | re.S)
WRAPPER = re.compile(r"<!-- example-wrapper\n((?:(?!-->).)*)-->\s*\Z", re.S)
RUN_MODE = re.compile(r"<!-- example-run: ([a-z-]+) -->\s*\Z")
# A fragment gets the headers and names every example may assume.
FRAGMENT_PRELUDE = """#include <ferry/ferry.hpp>
#include <csignal>
using namespace std::chrono_literals;
"""


class Example:
    def __init__(self, path, line, code, wrapper, run_mode):
        self.where = f"{path}:{line}"
        self.whole = re.search(r"\bint\s+main\s*\(", code) is not None
        self.run_mode = run_mode
        if self.whole:
            self.source = code
        elif wrapper is not None:
            self.source = FRAGMENT_PRELUDE + wrapper.replace("%%", code)
            if not re.search(r"\bint\s+main\s*\(", wrapper):
                self.source += "\nint main() {}\n"
        else:
            self.source = None  # a fragment nobody said how to wrap: an error


def examples_in(path):
    text = path.read_text()
    found = []
    for match in BLOCK.finditer(text):
        before = text[: match.start()]
        line = before.count("\n") + 1
        wrapper = WRAPPER.search(before)
        run_mode = RUN_MODE.search(before)
        found.append(Example(path, line, match.group(1), wrapper.group(1) if wrapper else None,
                             run_mode.group(1) if run_mode else None))
    return found


def build(example, workdir, index, cxx, flags, pkg_libs):
    source = workdir / f"example{index}.cpp"
    binary = workdir / f"example{index}"
    source.write_text(example.source)
    # The README's command: the compiler, the file, then what pkg-config says; the build's own
    # flags (sanitizers) go first, as a user's CXXFLAGS would.
    command = [cxx, *flags, str(source), "-o", str(binary), *pkg_libs]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return f"{example.where}: does not compile:\n{' '.join(command)}\n{done.stderr[-6000:]}"
    if not example.whole:
        return None
    return run(example, binary)


def run(example, binary):
    process = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        if example.run_mode == "until-sigint":
            try:
                out, _ = process.communicate(timeout=1.0)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGINT)
                out, _ = process.communicate(timeout=20)
        else:
            out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return f"{example.where}: did not finish"
    if process.returncode != 0:
        return f"{example.where}: exited with {process.returncode}:\n{out[-4000:]}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cxx", required=True)
    parser.add_argument("--flags", default="", help="the build's compiler and linker flags")
    parser.add_argument("markdown", nargs="+", type=Path)
    args = parser.parse_args()

    pkg = subprocess.run(["pkg-config", "--cflags", "--libs", "ferry"], capture_output=True,
                         text=True)
    if pkg.returncode != 0:
        sys.exit(f"pkg-config --cflags --libs ferry failed: {pkg.stderr}")
    pkg_libs = shlex.split(pkg.stdout)
    flags = shlex.split(args.flags)

    examples = [e for path in args.markdown for e in examples_in(path)]
    failures = [f"{e.where}: a fragment without an example-wrapper comment"
                for e in examples if e.source is None]
    buildable = [e for e in examples if e.source is not None]
    with tempfile.TemporaryDirectory() as scratch, \
            concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        workdir = Path(scratch)
        # Whole programs are run one at a time (the README's servers share port 8888).
        compiled = list(pool.map(
            lambda item: build(item[1], workdir, item[0], args.cxx, flags, pkg_libs)
            if not item[1].whole else None, enumerate(buildable)))
        failures += [f for f in compiled if f]
        for index, example in enumerate(buildable):
            if example.whole:
                failure = build(example, workdir, index, args.cxx, flags, pkg_libs)
                if failure:
                    failures.append(failure)
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"{len(buildable)} examples checked, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
