#!/usr/bin/env bash
# Runs a Windows test program under Wine with two COM ports joined like a null-modem cable:
# socat relays between two pseudo-terminals, and COM ports are mapped to them through Wine's
# dosdevices links. The program finds them in FERRY_TEST_COM_PAIR. Usage:
#   run_under_wine.sh PROGRAM.exe [arguments...]
# Wine's prefix is made once (WINEPREFIX, default build/wine-prefix) and its server kept
# running; Wine's own chatter (and the thousands of lines it prints when a pty hangs up) goes
# to $WINEPREFIX/wine.log, not into the test's output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export WINEPREFIX="${WINEPREFIX:-$here/../../build/wine-prefix}"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
mkdir -p "$WINEPREFIX"
log="$WINEPREFIX/wine.log"
# One run sets the prefix up while parallel runs (ctest -j) wait for it. A persistent server
# and a warm-up run, with stdio away from our pipes: Wine's helper processes would otherwise
# inherit them and the reader would never see end-of-file. flock -o: the server and helpers
# this starts must not inherit the lock, or they would hold it for as long as they live.
flock -o "$WINEPREFIX/.setup.lock" bash -c '
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        wineboot -i > "$1" 2>&1 < /dev/null
    fi
    wineserver -p > /dev/null 2>> "$1" < /dev/null || true
    wine cmd /c exit > /dev/null 2>> "$1" < /dev/null
' setup "$log"

if ! command -v socat > /dev/null; then
    echo "run_under_wine.sh: socat is missing (third_party/windows/build-deps.sh installs it)" >&2
    exit 2
fi
links="$(mktemp -d)"
socat -d pty,raw,echo=0,link="$links/a" pty,raw,echo=0,link="$links/b" 2> "$links/socat.log" &
socat_pid=$!
cleanup() {
    kill "$socat_pid" 2> /dev/null || true
    wait "$socat_pid" 2> /dev/null || true
    rm -f "$WINEPREFIX/dosdevices/com${a_number:-0}" "$WINEPREFIX/dosdevices/com${b_number:-0}"
    rm -rf "$links"
}
trap cleanup EXIT
for _ in $(seq 100); do
    [ -e "$links/a" ] && [ -e "$links/b" ] && break
    sleep 0.05
done
if [ ! -e "$links/a" ] || [ ! -e "$links/b" ]; then
    echo "run_under_wine.sh: socat made no pty pair: $(cat "$links/socat.log")" >&2
    exit 2
fi
# COM ports from 20 up, one pair per run (the process id keeps parallel runs apart).
a_number=$((20 + ($$ % 100) * 2))
b_number=$((a_number + 1))
ln -sfn "$(readlink -f "$links/a")" "$WINEPREFIX/dosdevices/com$a_number"
ln -sfn "$(readlink -f "$links/b")" "$WINEPREFIX/dosdevices/com$b_number"
export FERRY_TEST_COM_PAIR="COM$a_number,COM$b_number"
# The server must be running, started away from our pipes, before the program's own `wine`: a
# server that `wine` starts itself inherits the test's output pipe, and the reader (ctest)
# never sees end-of-file (seen once on a fresh prefix). A running server makes this a no-op.
wineserver -p > /dev/null 2>> "$log" < /dev/null || true
WINEDEBUG=-all wine "$@" 2>> "$log"
