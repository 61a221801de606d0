#!/usr/bin/env bash
# Runs com_bench's POSIX build over a socat pty pair, then (if given) its Windows build under
# Wine over two COM ports mapped to another such pair, so the two builds and the blocking
# program beside each are measured over the same kind of link in one run. Usage:
#   com_bench.sh build/release/tests/bench/com_bench [build/windows/tests/com_bench.exe] \
#       [MiB] [echoes] [idle-seconds]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
posix="$1"
windows="${2:-}"
shift $(( $# >= 2 ? 2 : 1 ))
links="$(mktemp -d)"
socat -d pty,raw,echo=0,link="$links/a" pty,raw,echo=0,link="$links/b" 2> /dev/null &
socat_pid=$!
trap 'kill $socat_pid 2> /dev/null || true; rm -rf "$links"' EXIT
for _ in $(seq 100); do
    [ -e "$links/a" ] && [ -e "$links/b" ] && break
    sleep 0.05
done
FERRY_TEST_COM_PAIR="$(readlink -f "$links/a"),$(readlink -f "$links/b")" "$posix" "$@"
if [ -n "$windows" ]; then
    "$here/../windows/run_under_wine.sh" "$windows" "$@"
fi
