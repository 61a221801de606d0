#pragma once
// What the streams layer's pieces share, private to ferry::protocols: a connection's reader
// and writer state in one block, and a server's client tasks (filled in by start_server's
// spawner, read by StreamServer).

#include <cstdint>
#include <map>

#include <ferry/detail/reader_writer_state.hpp>
#include <ferry/streams.hpp>
#include <ferry/sync.hpp>
#include <ferry/task_handle.hpp>

namespace ferry::detail {

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
