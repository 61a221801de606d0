// The stream protocol: the Protocol that feeds a StreamReader and tracks the writer's
// state (asyncio's StreamReaderProtocol), and the StreamConnection glue the factories use.
#include <algorithm>

#include <ferry/detail/task_runtime.hpp>
#include <ferry/streams.hpp>

#include "streams/stream_state.hpp"

namespace ferry::detail {
namespace {

/// Feeds a StreamReader, tracks the writer's state (asyncio's StreamReaderProtocol). A plain
/// Protocol, not a BufferedProtocol: every receive lands in the loop's read buffer, which
/// stays in cache, and a read(n) that waits takes it in one copy (feed_data). Receiving into
/// the reader's buffer instead cost a get_buffer call per read (~60 instructions per echo
/// round trip, docs/benchmarks.md) and, for bulk, receives into pages malloc had just given
/// back.
class StreamProtocol final : public Protocol {
public:
    StreamProtocol(std::shared_ptr<StreamStates> states,
                   std::function<void(StreamReader, StreamWriter)> on_connect)
        : reader(
              StreamConnection::reader_for(std::shared_ptr<ReaderState>(states, &states->reader))),
          writer(states, &states->writer), on_connect_(std::move(on_connect)) {}

    void connection_made(Transport& transport) override {
        reader.set_transport(&transport);
        writer->transport = &transport;
        if (on_connect_) {
            // Called once: let go of it (and what it holds) for the rest of the connection.
            const auto on_connect = std::move(on_connect_);
            on_connect_ = nullptr;
            on_connect(reader, StreamConnection::pair_of(transport).second);
        }
    }
    void data_received(ByteView data) override { reader.feed_data(data); }
    bool eof_received() override {
        reader.feed_eof();
        return true; // keep the sending side open; the writer closes it
    }
    void connection_lost(std::error_code error) override {
        if (error) {
            reader.set_exception(std::make_exception_ptr(
                ConnectionResetError(error, "connection lost: " + error.message())));
        } else {
            reader.feed_eof();
        }
        reader.set_transport(nullptr);
        writer->lost = true;
        writer->lost_error = error;
        writer->drainers.wake_all();
        writer->closers.wake_all();
    }
    void pause_writing() override { writer->paused = true; }
    void resume_writing() override {
        writer->paused = false;
        writer->drainers.wake_all();
    }

    StreamReader reader;
    std::shared_ptr<WriterState> writer;

private:
    std::function<void(StreamReader, StreamWriter)> on_connect_;
};

} // namespace

ProtocolFactory
StreamConnection::factory(Loop& loop, std::size_t limit,
                          std::function<void(StreamReader, StreamWriter)> on_connect) {
    if (limit == 0) {
        throw Error(make_error_code(errc::invalid_argument), "StreamReader: limit must be > 0");
    }
    return [&loop, limit, on_connect = std::move(on_connect)] {
        return std::make_unique<StreamProtocol>(std::make_shared<StreamStates>(loop, limit),
                                                on_connect);
    };
}

std::pair<StreamReader, StreamWriter> StreamConnection::pair_of(Transport& transport) {
    auto& protocol = transport.protocol_as<StreamProtocol>();
    return {protocol.reader, StreamWriter(protocol.writer, transport.shared_from_this())};
}

StreamWriter StreamConnection::writer_for(std::shared_ptr<WriterState> state,
                                          std::shared_ptr<Transport> transport) {
    return StreamWriter(std::move(state), std::move(transport));
}

} // namespace ferry::detail
