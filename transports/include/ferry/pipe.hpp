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

/// Wraps a bidirectional descriptor (a socketpair end, a connected Unix socket; on Windows a
/// connected SOCKET or a pipe handle) and reads it. Takes ownership as connect_read_pipe does.
Result<std::shared_ptr<Transport>> connect_stream_fd(Loop& loop, ProtocolFactory factory,
                                                     NativeHandle fd);

/// One transport over two descriptors: reads `input`, writes `output` (two pipes to a child
/// process, or stdin and stdout). write_eof() closes `output` (a pipe's end of data) while
/// reading goes on; the end of `input` is eof_received. Takes ownership of both (closed on
/// failure too).
Result<std::shared_ptr<Transport>> connect_pipe_pair(Loop& loop, ProtocolFactory factory,
                                                     NativeHandle input, NativeHandle output);

/// Reads standard input and writes standard output as one transport (connect_pipe_pair over
/// duplicates of descriptors 0 and 1, so closing it leaves them to the process; their
/// non-blocking flag is put back when it ends). Fails when either is a regular file or
/// /dev/null, which the loop cannot wait on.
Result<std::shared_ptr<Transport>> connect_stdio(Loop& loop, ProtocolFactory factory);

} // namespace ferry
