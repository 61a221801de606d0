#pragma once
// The three echo servers the benchmark compares. Each listens on 127.0.0.1:0, writes its port
// to `port_fd`, and serves until the process is killed. All apply the same back-pressure:
// stop reading while more than 64 KiB of echo is queued.

namespace bench {

/// ferry's Protocol API: data_received -> write; pause_writing pauses reading.
[[noreturn]] void run_ferry_server(int port_fd);
/// ferry's streams: `read(64 KiB)` -> write -> drain, one task per connection.
[[noreturn]] void run_ferry_streams_server(int port_fd);
/// Raw libuv: read callback -> uv_try_write, remainder copied into a uv_write.
[[noreturn]] void run_libuv_server(int port_fd);
/// Asio: async_read_some -> async_write -> read again, the canonical Asio echo.
[[noreturn]] void run_asio_server(int port_fd);

} // namespace bench
