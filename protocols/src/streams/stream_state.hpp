#pragma once
// What the streams layer's pieces share, private to ferry::protocols: the writer's view of its
// connection (filled in by the stream protocol, read by StreamWriter), a connection's reader
// and writer state in one block, and a server's client tasks (filled in by start_server's
// spawner, read by StreamServer).

#include <cstdint>
#include <map>
#include <system_error>

#include <ferry/streams.hpp>
#include <ferry/sync.hpp>
#include <ferry/task_handle.hpp>

#include "streams/reader_state.hpp"

namespace ferry::detail {

/// What a StreamWriter needs to know of its connection: flow-control pauses and the loss.
struct WriterState {
    Transport* transport = nullptr;
    bool paused = false; // between pause_writing and resume_writing
    bool lost = false;
    std::error_code lost_error;
    WaitQueue drainers;
    WaitQueue closers;
};

/// A connection's reader and writer state in one allocation: both are touched on every
/// message, and one block is one allocation and one control block fewer per connection.
/// StreamReader and StreamWriter hold aliasing shared_ptrs into it.
struct StreamStates {
    StreamStates(Loop& loop, std::size_t limit) : reader(loop, limit) {}
    ReaderState reader;
    WriterState writer;
};

/// Client tasks of a StreamServer, keyed by arrival.
struct ClientSet {
    std::map<std::uint64_t, TaskHandle<void>> tasks;
    std::uint64_t next_id = 0;
    Event idle; // set while no client task runs
    ClientSet() { idle.set(); }
};

} // namespace ferry::detail
