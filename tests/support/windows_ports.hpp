#pragma once
// The COM port pair Windows tests run over: under Wine, tests/windows/run_under_wine.sh joins
// two COM ports through socat and names them in FERRY_TEST_COM_PAIR ("COM20,COM21").

#include <cstdlib>
#include <string>
#include <utility>

#include <uv.h> // before windows.h: it brings winsock2.h

#include <windows.h>

#include <tlhelp32.h>

namespace ferry::test {

/// The two COM ports of the null-modem pair, or empty names when none was set up.
inline std::pair<std::string, std::string> com_pair() {
    const char* names = std::getenv("FERRY_TEST_COM_PAIR");
    if (names == nullptr) {
        return {};
    }
    const std::string both(names);
    const auto comma = both.find(',');
    if (comma == std::string::npos) {
        return {};
    }
    return {both.substr(0, comma), both.substr(comma + 1)};
}

/// Why COM port tests cannot run here, or empty when a pair is set up.
inline std::string no_com_pair_reason() {
    return com_pair().first.empty()
               ? "no COM port pair: run under tests/windows/run_under_wine.sh, which joins two "
                 "COM ports through socat (FERRY_TEST_COM_PAIR)"
               : "";
}

/// True under Wine, whose COM ports are Linux ttys and differ from Windows drivers in places.
inline bool running_under_wine() {
    return GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version") != nullptr;
}

/// How a port opened by open_raw_com reads (and writes).
enum class RawReads {
    return_at_once, ///< a read returns what is waiting, perhaps nothing; a write what fits
    wait_for_all,   ///< a read waits for every byte it asks for (a blocking program)
};

/// Opens a COM port synchronously (no FILE_FLAG_OVERLAPPED), raw 115200 8N1 without flow
/// control, both queues purged; INVALID_HANDLE_VALUE if it cannot.
inline HANDLE open_raw_com(const std::string& name, RawReads reads) {
    const HANDLE port = CreateFileA(("\\\\.\\" + name).c_str(), GENERIC_READ | GENERIC_WRITE, 0,
                                    nullptr, OPEN_EXISTING, 0, nullptr);
    if (port == INVALID_HANDLE_VALUE) {
        return port;
    }
    DCB dcb{};
    dcb.DCBlength = sizeof dcb;
    GetCommState(port, &dcb);
    dcb.BaudRate = CBR_115200;
    dcb.ByteSize = 8;
    dcb.Parity = NOPARITY;
    dcb.StopBits = ONESTOPBIT;
    dcb.fBinary = TRUE;
    dcb.fParity = FALSE;
    dcb.fOutxCtsFlow = FALSE;
    dcb.fOutxDsrFlow = FALSE;
    dcb.fDsrSensitivity = FALSE;
    dcb.fOutX = FALSE;
    dcb.fInX = FALSE;
    dcb.fDtrControl = DTR_CONTROL_ENABLE;
    dcb.fRtsControl = RTS_CONTROL_ENABLE;
    SetCommState(port, &dcb);
    COMMTIMEOUTS timeouts{};
    if (reads == RawReads::return_at_once) {
        timeouts.ReadIntervalTimeout = MAXDWORD;
        // A write gives up after a millisecond with what was taken: a test playing a device
        // on one thread must not block while the port it feeds is paused.
        timeouts.WriteTotalTimeoutConstant = 1;
    }
    SetCommTimeouts(port, &timeouts);
    PurgeComm(port, PURGE_RXCLEAR | PURGE_TXCLEAR);
    return port;
}

/// Threads in this process now.
inline int thread_count() {
    const HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    THREADENTRY32 entry{};
    entry.dwSize = sizeof entry;
    int count = 0;
    for (BOOL more = Thread32First(snapshot, &entry); more; more = Thread32Next(snapshot, &entry)) {
        count += entry.th32OwnerProcessID == GetCurrentProcessId() ? 1 : 0;
    }
    CloseHandle(snapshot);
    return count;
}

} // namespace ferry::test
