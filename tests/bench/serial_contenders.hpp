#pragma once
// The serial-port programs serial_bench compares. Each opens the pty slave at `path` itself
// (raw, 115200 8N1, non-blocking), runs one job in the calling thread until it is done, and
// returns. The device side (the pty master) is driven by serial_bench, the same for all.

#include <cstddef>
#include <string>

namespace bench {

/// What the program under test does with the port.
enum class SerialJob {
    /// Read `amount` bytes the device sends.
    receive,
    /// Write `amount` bytes for the device to read (done when the last is accepted).
    send,
    /// Echo every byte straight back, `amount` bytes in all (the device sends one at a time).
    echo,
};

/// One run of one program.
struct SerialRun {
    SerialJob job;
    std::string path;
    std::size_t amount;
};

/// A raw epoll loop in C style: read until EAGAIN / write until EAGAIN.
void serial_raw_epoll(const SerialRun& run);
/// Raw libuv: one uv_poll_t, the same reads and writes.
void serial_raw_uv_poll(const SerialRun& run);
/// ferry: create_serial_connection and a Protocol.
void serial_ferry(const SerialRun& run);
/// Asio: asio::serial_port with async_read_some / async_write.
void serial_asio(const SerialRun& run);

} // namespace bench
