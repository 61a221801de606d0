#pragma once
/// Transports over an existing file descriptor: pipes, FIFOs, socketpairs, stdin/stdout.

#include <memory>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/result.hpp>
#include <ferry/transport.hpp>

namespace ferry {

/// Wraps the readable descriptor `fd` (e.g. a pipe's read end) and starts reading it.
/// The transport takes ownership of `fd` and closes it. connection_made has run on return.
/// Fails (without taking ownership) when `fd` is not a valid descriptor.
Result<std::shared_ptr<Transport>> connect_read_pipe(Loop& loop, ProtocolFactory factory,
                                                     NativeHandle fd);

/// Wraps the writable descriptor `fd` (e.g. a pipe's write end); nothing is read from it.
/// The transport takes ownership of `fd`; write_eof() closes it once the queue is flushed.
Result<std::shared_ptr<Transport>> connect_write_pipe(Loop& loop, ProtocolFactory factory,
                                                      NativeHandle fd);

/// Wraps a bidirectional descriptor (a socketpair end, a connected Unix socket) and reads it.
Result<std::shared_ptr<Transport>> connect_stream_fd(Loop& loop, ProtocolFactory factory,
                                                     NativeHandle fd);

} // namespace ferry
