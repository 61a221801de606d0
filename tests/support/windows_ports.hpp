#pragma once
// The COM port pair Windows tests run over: under Wine, tests/windows/run_under_wine.sh joins
// two COM ports through socat and names them in FERRY_TEST_COM_PAIR ("COM20,COM21").

#include <cstdlib>
#include <string>
#include <utility>

#include <uv.h> // before windows.h: it brings winsock2.h

#include <windows.h>

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

} // namespace ferry::test
