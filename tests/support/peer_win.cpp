// Peer on Windows: a non-blocking SOCKET, or a synchronous pipe or COM port HANDLE that is
// read only as far as PeekNamedPipe or ClearCommError says bytes are waiting.
#include "peer.hpp"

#include <uv.h> // before windows.h: it brings winsock2.h

#include <windows.h>

#include <algorithm>

namespace ferry::test {
namespace {

HANDLE as_handle(std::intptr_t value) {
    return reinterpret_cast<HANDLE>(value);
}

SOCKET as_socket(std::intptr_t value) {
    return static_cast<SOCKET>(value);
}

/// Reads exactly `count` bytes that are known to be waiting (so a synchronous read returns).
std::ptrdiff_t read_waiting(HANDLE handle, char* buffer, std::size_t size, DWORD waiting) {
    DWORD got = 0;
    const DWORD want = static_cast<DWORD>(std::min<std::size_t>(size, waiting));
    if (!ReadFile(handle, buffer, want, &got, nullptr)) {
        return 0;
    }
    return got > 0 ? static_cast<std::ptrdiff_t>(got) : -1;
}

} // namespace

bool Peer::write(std::string_view bytes) noexcept {
    if (kind_ == Kind::socket) {
        const int n = ::send(as_socket(handle_), bytes.data(), static_cast<int>(bytes.size()), 0);
        return n == static_cast<int>(bytes.size());
    }
    DWORD written = 0;
    return WriteFile(as_handle(handle_), bytes.data(), static_cast<DWORD>(bytes.size()), &written,
                     nullptr) &&
           written == bytes.size();
}

std::ptrdiff_t Peer::write_some(std::string_view bytes) noexcept {
    if (kind_ == Kind::socket) { // non-blocking: WSAEWOULDBLOCK when full
        const int n = ::send(as_socket(handle_), bytes.data(), static_cast<int>(bytes.size()), 0);
        return n > 0 ? n : -1;
    }
    // A synchronous handle: a pipe waits for room; a COM port from open_raw_com gives up after
    // its write timeout with what it took (WriteFile may then say ERROR_TIMEOUT).
    DWORD written = 0;
    WriteFile(as_handle(handle_), bytes.data(), static_cast<DWORD>(bytes.size()), &written,
              nullptr);
    return written > 0 ? static_cast<std::ptrdiff_t>(written) : -1;
}

std::ptrdiff_t Peer::read_some(char* buffer, std::size_t size) noexcept {
    switch (kind_) {
    case Kind::socket: {
        const int n = ::recv(as_socket(handle_), buffer, static_cast<int>(size), 0);
        if (n > 0) {
            return n;
        }
        return n < 0 && WSAGetLastError() == WSAEWOULDBLOCK ? -1 : 0;
    }
    case Kind::pipe: {
        DWORD waiting = 0;
        if (!PeekNamedPipe(as_handle(handle_), nullptr, 0, nullptr, &waiting, nullptr)) {
            return 0; // ERROR_BROKEN_PIPE: the other end closed
        }
        return waiting > 0 ? read_waiting(as_handle(handle_), buffer, size, waiting) : -1;
    }
    case Kind::com: {
        DWORD errors = 0;
        COMSTAT status{};
        if (!ClearCommError(as_handle(handle_), &errors, &status)) {
            return 0;
        }
        return status.cbInQue > 0 ? read_waiting(as_handle(handle_), buffer, size, status.cbInQue)
                                  : -1;
    }
    default:
        return 0;
    }
}

void Peer::shutdown_write() noexcept {
    if (kind_ == Kind::socket) {
        ::shutdown(as_socket(handle_), SD_SEND);
    }
}

void Peer::reset() noexcept {
    if (kind_ == Kind::socket) {
        const linger reset{1, 0};
        ::setsockopt(as_socket(handle_), SOL_SOCKET, SO_LINGER,
                     reinterpret_cast<const char*>(&reset), sizeof reset);
    }
    close();
}

void Peer::close() noexcept {
    if (kind_ == Kind::socket) {
        ::closesocket(as_socket(handle_));
    } else if (kind_ != Kind::none) {
        CloseHandle(as_handle(handle_));
    }
    kind_ = Kind::none;
    handle_ = -1;
}

} // namespace ferry::test
