#pragma once
/// asyncio's streams: StreamReader / StreamWriter over any transport, open_connection,
/// start_server and their Unix-socket forms. `co_await reader.readline()`.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include <ferry/bytes.hpp>
#include <ferry/detail/reader_writer_state.hpp>
#include <ferry/detail/task_runtime.hpp>
#include <ferry/error.hpp>
#include <ferry/serial.hpp>
#include <ferry/server.hpp>
#include <ferry/task.hpp>
#include <ferry/tcp.hpp>
#include <ferry/transport.hpp>

namespace ferry {

/// EOF came before the requested bytes (asyncio.IncompleteReadError).
class IncompleteReadError : public Error {
public:
    /// `partial` is what was read before EOF; `expected` the size asked for (0 = a separator).
    IncompleteReadError(Bytes partial, std::size_t expected);
    /// The bytes read before EOF (no longer in the reader).
    Bytes partial;
    /// The number of bytes asked for, or 0 when a separator was awaited.
    std::size_t expected;
};

/// The reader's limit was reached before a separator (asyncio.LimitOverrunError).
class LimitOverrunError : public Error {
public:
    /// `consumed` bytes would have to be consumed to get past the problem.
    LimitOverrunError(const std::string& what, std::size_t consumed);
    /// How many bytes lie before the point where the search stopped (still in the buffer).
    std::size_t consumed;
};

namespace detail {
struct StreamConnection;
struct ClientSet;
} // namespace detail

/// Default buffer limit of a StreamReader: 64 KiB.
inline constexpr std::size_t default_stream_limit = 64 * 1024;

/// Buffers incoming bytes and hands them out by count, up to a separator, or until EOF.
/// A handle: copies share the same reader. One read may wait at a time; a second read while
/// one waits throws ferry::Error. A cancelled read consumes nothing. While more than twice the
/// limit is buffered the transport is paused; it resumes once at most `limit` remain.
/// Loop thread only.
class StreamReader {
public:
    class ReadAwaiter;
    class ChunkAwaiter;

    /// A reader on `loop` with the given buffer limit.
    explicit StreamReader(Loop& loop, std::size_t limit = default_stream_limit);

    /// Reads up to `n` bytes (at least one unless at EOF); n = -1 reads until EOF (cancelled
    /// or timed out, it puts back what it gathered). Awaited at once it needs no coroutine
    /// frame; convert it to a Task<Bytes> to spawn or store it.
    ReadAwaiter read(std::ptrdiff_t n = -1) const;
    /// Reads exactly `n` bytes; IncompleteReadError (with `partial`) if EOF comes first.
    /// Like read(), needs no coroutine frame when awaited at once (see ChunkAwaiter).
    ChunkAwaiter readexactly(std::size_t n) const;
    /// Reads up to and including `separator` (a literal, string or bytes; copied, so it may
    /// be a temporary). At EOF: IncompleteReadError with what is left. Over the limit:
    /// LimitOverrunError, and the data stays in the buffer.
    ChunkAwaiter readuntil(ByteView separator) const;
    /// Reads up to the separator that ends the shortest chunk of several:
    /// `readuntil("\r\n", "\n")` — no container needed (safe inside co_await with GCC 12).
    template <std::convertible_to<ByteView>... More>
    ChunkAwaiter readuntil(ByteView first, ByteView second, const More&... more) const;
    /// Reads up to the separator that ends the shortest chunk of several: `readuntil({"#",
    /// "|"})`. (GCC 12 rejects a braced list inside a co_await expression — "array used as
    /// initializer" — so there write the separators as arguments, as above.)
    ChunkAwaiter readuntil(std::initializer_list<ByteView> separators) const;
    /// Reads up to the separator that ends the shortest chunk of several, from a container
    /// (a std::vector<Bytes>, say). The separators are copied.
    ChunkAwaiter readuntil(std::span<const Bytes> separators) const;
    /// Reads one line including "\n"; at EOF returns what is left (possibly empty). A line
    /// longer than the limit is discarded up to the next "\n" (or the buffer is cleared) and
    /// LimitOverrunError is thrown, so the next readline starts on a fresh line (asyncio).
    ChunkAwaiter readline() const;
    /// True when EOF was fed and the buffer is empty.
    bool at_eof() const noexcept;
    /// Bytes buffered and not yet read.
    std::size_t buffered() const noexcept;
    /// The limit given at construction.
    std::size_t limit() const noexcept;

    /// Adds received bytes (from the protocol). Ignored after EOF.
    void feed_data(ByteView data) {
        if (!data.empty() && !state_->eof) {
            state_->append(data);
        }
    }
    /// Space to receive up to `size_hint` bytes into directly (a BufferedProtocol's
    /// get_buffer): fill it and call commit() before returning to the loop, as a transport does.
    std::span<std::byte> prepare(std::size_t size_hint) { return state_->prepare(size_hint); }
    /// `n` bytes were received into the space prepare() returned.
    void commit(std::size_t n) {
        if (!state_->eof) {
            state_->commit(n);
        }
    }
    /// Marks the end of the stream.
    void feed_eof();
    /// Ends the stream with an error: reads that cannot be served from the buffer throw it
    /// (bytes already buffered are still delivered first).
    void set_exception(std::exception_ptr error);
    /// The transport to pause and resume for flow control (null to detach).
    void set_transport(Transport* transport) noexcept;

private:
    friend struct detail::StreamConnection;
    explicit StreamReader(std::shared_ptr<detail::ReaderState> state) noexcept
        : state_(std::move(state)) {}
    static Bytes to_bytes(ByteView view) { return Bytes(view.begin(), view.end()); }
    ChunkAwaiter readuntil_any(std::vector<Bytes> separators) const;
    /// read(-1)'s loop of reads, as a Task (it holds a copy of the reader).
    static Task<Bytes> read_until_eof(StreamReader reader);

    std::shared_ptr<detail::ReaderState> state_;
};

/// What StreamReader::read returns: the read parks in the awaiting coroutine's own frame
/// (a read per message is the streams API's hottest path; a Task would allocate a frame per
/// call and keep one per waiting connection). It refers to the StreamReader it came from, which
/// must outlive it: await it in the expression that made it, or convert it to a Task.
class [[nodiscard]] StreamReader::ReadAwaiter : public detail::Waiter {
public:
    /// Moving is for an awaiter not yet awaited (returning, wrapping it).
    ReadAwaiter(ReadAwaiter&& other) noexcept;
    ReadAwaiter& operator=(ReadAwaiter&&) = delete;
    /// Leaves the reader free for the next read if this one was abandoned while parked.
    ~ReadAwaiter();
    /// Ready when the buffer, EOF or an error can answer now; throws if another read waits.
    bool await_ready();
    /// Parks the coroutine until data, EOF or an error arrives.
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept;
    /// The bytes read (empty at EOF); throws the stream's error or CancelledError.
    Bytes await_resume();
    /// The same read as a Task (for create_task, gather, or awaiting it later).
    operator Task<Bytes>() &&;

private:
    friend class StreamReader;
    ReadAwaiter(const StreamReader& reader, std::ptrdiff_t n) noexcept : reader_(&reader), n_(n) {}
    /// What the conversion to a Task runs: `read` awaited over the Task's own copy of the reader.
    static Task<Bytes> as_task(StreamReader reader, ReadAwaiter read);
    // The inline members above take read(n > 0)'s usual paths, where a message costs most
    // (docs/benchmarks.md, streams echo); these take the rest.
    bool ready_otherwise();
    bool suspend_until_eof(std::coroutine_handle<> awaiting) noexcept;
    Bytes resume_otherwise();

    // Not a shared_ptr copy: two atomic operations per read were a tenth of the streams
    // layer's own cost per message.
    const StreamReader* reader_;
    std::ptrdiff_t n_;
    Task<Bytes> until_eof_; // read(-1): a loop of reads, a Task after all
    bool parked_ = false;
};

inline StreamReader::ReadAwaiter StreamReader::read(std::ptrdiff_t n) const {
    return ReadAwaiter(*this, n);
}

inline StreamReader::ReadAwaiter::ReadAwaiter(ReadAwaiter&& other) noexcept
    : Waiter(std::move(other)), reader_(other.reader_), n_(other.n_),
      until_eof_(std::move(other.until_eof_)) {}

inline StreamReader::ReadAwaiter::~ReadAwaiter() {
    if (parked_) {
        reader_->state_->reading = false;
        reader_->state_->parked_read_max = 0;
    }
}

inline bool StreamReader::ReadAwaiter::await_ready() {
    const detail::ReaderState& s = *reader_->state_;
    if (n_ > 0 && s.size() == 0 && !s.eof && !s.error && !s.reading && !s.paused) {
        return false; // nothing buffered: wait for it
    }
    return ready_otherwise();
}

inline bool StreamReader::ReadAwaiter::await_suspend(std::coroutine_handle<> awaiting) noexcept {
    if (n_ < 0) {
        return suspend_until_eof(awaiting);
    }
    if (!park(awaiting)) {
        return false;
    }
    parked_ = true;
    detail::ReaderState& s = *reader_->state_;
    s.reading = true;
    s.waiting.push_back(*this);
    s.parked_read_max = static_cast<std::size_t>(n_);
    return true;
}

inline Bytes StreamReader::ReadAwaiter::await_resume() {
    if (n_ <= 0) {
        return resume_otherwise();
    }
    detail::ReaderState& s = *reader_->state_;
    if (parked_) {
        s.reading = false;
        s.parked_read_max = 0;
        parked_ = false;
    }
    throw_if_cancelled();
    if (s.size() > 0) {
        return s.take(std::min(static_cast<std::size_t>(n_), s.size()));
    }
    return resume_otherwise(); // EOF or the stream's error
}

/// What readexactly, readuntil and readline return. The read parks in the awaiting coroutine's
/// frame and the reader wakes it only once the buffer holds the whole chunk (or EOF, the
/// stream's error or the limit ends it), so a line costs no coroutine frame and no loop of
/// wake-ups (it cost 2.5 times a read(), docs/benchmarks.md). Like ReadAwaiter it refers to
/// the StreamReader it came from, which must outlive it: await it in the expression that made
/// it, or convert it to a Task. The separators are copied into it.
class [[nodiscard]] StreamReader::ChunkAwaiter : public detail::Waiter {
public:
    /// Moving is for an awaiter not yet awaited (returning, wrapping it).
    ChunkAwaiter(ChunkAwaiter&& other) noexcept;
    ChunkAwaiter& operator=(ChunkAwaiter&&) = delete;
    /// Leaves the reader free for the next read if this one was abandoned while parked.
    ~ChunkAwaiter();
    /// Ready when the buffer, EOF or the stream's error answers now. Throws if another read
    /// waits, or (readuntil) when a separator is empty or none was given.
    bool await_ready();
    /// Parks the coroutine until the chunk is complete, EOF or an error.
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept;
    /// The chunk; throws as readexactly, readuntil and readline say, or CancelledError.
    Bytes await_resume();
    /// The same read as a Task (for create_task, gather, or awaiting it later).
    operator Task<Bytes>() &&;

private:
    friend class StreamReader;
    enum class Kind : std::uint8_t { exactly, until, line };
    ChunkAwaiter(const StreamReader& reader, Kind kind, std::size_t size,
                 detail::Separators separators) noexcept
        : reader_(&reader), separators_(std::move(separators)), size_(size), kind_(kind) {}
    /// What the conversion to a Task runs: `read` awaited over the Task's own copy of the reader.
    static Task<Bytes> as_task(StreamReader reader, ChunkAwaiter read);
    Bytes take_exactly(detail::ReaderState& state) const;
    Bytes take_until(detail::ReaderState& state, std::size_t searched_from,
                     std::size_t match_end) const;
    /// readuntil leaves an over-long chunk in the buffer; readline drops it (asyncio).
    [[noreturn]] void overrun(detail::ReaderState& state, const char* what,
                              std::size_t consumed) const;
    const char* name() const noexcept;
    /// What the read waits for: none (readexactly), its own (readuntil) or "\n" (readline).
    const detail::Separators* separators() const noexcept;

    const StreamReader* reader_;    // as ReadAwaiter's: the reader must outlive the awaiter
    detail::Separators separators_; // readuntil's
    std::size_t size_;              // readexactly's count
    Kind kind_;
    bool parked_ = false;
};

inline StreamReader::ChunkAwaiter StreamReader::readexactly(std::size_t n) const {
    return ChunkAwaiter(*this, ChunkAwaiter::Kind::exactly, n, detail::Separators());
}

inline StreamReader::ChunkAwaiter StreamReader::readline() const {
    return ChunkAwaiter(*this, ChunkAwaiter::Kind::line, 0, detail::Separators());
}

inline StreamReader::ChunkAwaiter::~ChunkAwaiter() {
    if (parked_) {
        reader_->state_->reading = false;
        reader_->state_->forget_wanted();
    }
}

inline bool StreamReader::ChunkAwaiter::await_suspend(std::coroutine_handle<> awaiting) noexcept {
    if (!park(awaiting)) {
        return false;
    }
    parked_ = true;
    detail::ReaderState& s = *reader_->state_;
    s.reading = true;
    s.waiting.push_back(*this);
    return true;
}

template <std::convertible_to<ByteView>... More>
StreamReader::ChunkAwaiter StreamReader::readuntil(ByteView first, ByteView second,
                                                   const More&... more) const {
    return readuntil_any({to_bytes(first), to_bytes(second), to_bytes(ByteView(more))...});
}

/// Writes to a transport with back-pressure (asyncio.StreamWriter). A handle: copies share.
class StreamWriter {
public:
    class DrainAwaiter;

    /// Queues bytes; never blocks (call drain() to respect flow control).
    void write(ByteView data) const { transport_->write(data); }
    /// Queues several buffers as one gathered write.
    void writelines(std::span<const ByteView> parts) const;
    /// Waits until the write buffer is at or below its low-water mark. Throws if the
    /// connection is lost (it never hides a disconnect). Like read(), needs no coroutine frame
    /// when awaited at once; converts to a Task<void>.
    DrainAwaiter drain() const;
    /// Closes the sending side once flushed.
    void write_eof() const;
    /// True when write_eof() is supported.
    bool can_write_eof() const noexcept;
    /// Flushes and closes the transport.
    void close() const;
    /// True once closing or closed.
    bool is_closing() const noexcept;
    /// Waits until the connection is fully closed (connection_lost ran).
    Task<void> wait_closed() const;
    /// The transport, for extras (peername, serial settings...).
    Transport& transport() const noexcept;

private:
    friend struct detail::StreamConnection;
    StreamWriter(std::shared_ptr<detail::WriterState> state, std::shared_ptr<Transport> transport)
        : state_(std::move(state)), transport_(std::move(transport)) {}
    std::shared_ptr<detail::WriterState> state_;
    std::shared_ptr<Transport> transport_; // the writer keeps its transport object alive
};

/// What StreamWriter::drain returns: ready at once unless the transport asked the writer to
/// pause; then parked in the awaiting coroutine's frame until resume_writing or the loss. Like
/// ReadAwaiter it refers to its StreamWriter, which must outlive it.
class [[nodiscard]] StreamWriter::DrainAwaiter : public detail::Waiter {
public:
    /// Moving is for an awaiter not yet awaited.
    DrainAwaiter(DrainAwaiter&& other) noexcept
        : Waiter(std::move(other)), writer_(other.writer_) {}
    DrainAwaiter& operator=(DrainAwaiter&&) = delete;
    /// Ready unless writing is paused.
    bool await_ready() const noexcept;
    /// Waits in the writer's queue of drainers.
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept;
    /// Throws ConnectionResetError if the connection was lost, CancelledError if cancelled.
    void await_resume() const;
    /// The same wait as a Task.
    operator Task<void>() &&;

private:
    friend class StreamWriter;
    explicit DrainAwaiter(const StreamWriter& writer) noexcept : writer_(&writer) {}
    [[noreturn]] void throw_lost() const;
    const StreamWriter* writer_; // as ReadAwaiter's: the writer must outlive the awaiter
};

namespace detail {
/// Builds the reader/writer pair for a transport; shared by the stream factories.
struct StreamConnection {
    static ProtocolFactory factory(Loop& loop, std::size_t limit,
                                   std::function<void(StreamReader, StreamWriter)> on_connect);
    static std::pair<StreamReader, StreamWriter> pair_of(Transport& transport);
    /// A reader over `state` (a part of the connection's StreamStates).
    static StreamReader reader_for(std::shared_ptr<ReaderState> state) noexcept {
        return StreamReader(std::move(state));
    }
    /// A writer over `transport` whose flow control and loss `state` tracks (a child's stdin).
    static StreamWriter writer_for(std::shared_ptr<WriterState> state,
                                   std::shared_ptr<Transport> transport);
};
} // namespace detail

/// A reader and writer for one connection.
using StreamPair = std::pair<StreamReader, StreamWriter>;

inline StreamWriter::DrainAwaiter StreamWriter::drain() const {
    return DrainAwaiter(*this);
}

inline bool StreamWriter::DrainAwaiter::await_ready() const noexcept {
    return !writer_->state_->paused || writer_->state_->lost;
}

inline void StreamWriter::DrainAwaiter::await_resume() const {
    throw_if_cancelled();
    // One wake is enough, as asyncio's drain: resume_writing or the loss woke it. Writes
    // made since may have paused the writer again; the next drain() waits for that.
    if (writer_->state_->lost) {
        throw_lost();
    }
}

/// Connects to host:port and yields (reader, writer) (asyncio.open_connection).
Task<StreamPair> open_connection(Loop& loop, std::string host, std::uint16_t port,
                                 ConnectOptions options = {},
                                 std::size_t limit = default_stream_limit);
/// Connects to the Unix socket at `path` and yields (reader, writer).
Task<StreamPair> open_unix_connection(Loop& loop, std::string path,
                                      std::size_t limit = default_stream_limit);

/// Opens the serial port at `path` and yields (reader, writer); the writer's transport is a
/// SerialTransport (`writer.transport()`), for drain_to_wire, break and the modem lines.
/// Throws the open error (no such port, permission, busy, invalid option).
Task<StreamPair> open_serial_connection(Loop& loop, std::string path, SerialOptions options = {},
                                        std::size_t limit = default_stream_limit);

/// Handles one client: spawned as a task per connection, the connection is closed when it ends.
using ClientConnected = std::function<Task<void>(StreamReader, StreamWriter)>;

/// A server whose clients are served by tasks it owns (what start_server returns).
class StreamServer {
public:
    /// The listening server (addresses, port, close_clients...).
    Server& server() const noexcept { return *server_; }
    /// The port of the first listening socket.
    std::uint16_t port() const { return server_->port(); }
    /// Stops listening; client tasks go on.
    void close() { server_->close(); }
    /// Cancels every client task (their connections close as each task ends).
    void cancel_clients();
    /// Client tasks still running.
    std::size_t client_count() const noexcept;
    /// Waits until the server is closed and every client task has finished.
    Task<void> wait_closed() const;

    /// Use start_server / start_unix_server.
    StreamServer(std::shared_ptr<Server> server, std::shared_ptr<detail::ClientSet> clients);

private:
    std::shared_ptr<Server> server_;
    std::shared_ptr<detail::ClientSet> clients_;
};

/// Listens on host:port and runs `client_connected(reader, writer)` as a task per client
/// (asyncio.start_server).
Task<std::shared_ptr<StreamServer>> start_server(Loop& loop, ClientConnected client_connected,
                                                 std::string host, std::uint16_t port,
                                                 ServerOptions options = {},
                                                 std::size_t limit = default_stream_limit);
/// Listens on the Unix socket at `path`, one task per client.
Task<std::shared_ptr<StreamServer>> start_unix_server(Loop& loop, ClientConnected client_connected,
                                                      std::string path,
                                                      std::size_t limit = default_stream_limit);

} // namespace ferry
