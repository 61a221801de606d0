// StreamReader fed in every chunk size, limits and recovery, EOF and errors, cancellation;
// StreamWriter drain and close; open_connection / start_server over TCP and Unix sockets
// (named pipes on Windows); a serial port as streams.
#include <cstring>

#include <ferry/ferry.hpp>

#include "../support/test_support.hpp"
#include "../support/wired.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;

std::string text(const Bytes& bytes) {
    return ByteView(bytes).to_string();
}
Bytes bytes(std::string_view s) {
    return ByteView(s).to_bytes();
}

class StreamReaderTest : public LoopTest {};

/// Feeds `input` to `reader` in `chunk`-byte pieces, one piece per loop iteration.
Task<void> feed_in_chunks(StreamReader reader, std::string input, std::size_t chunk) {
    for (std::size_t at = 0; at < input.size(); at += chunk) {
        reader.feed_data(ByteView(input).subview(at, chunk));
        co_await sleep(0ms);
    }
    reader.feed_eof();
}

TEST_F(StreamReaderTest, EveryChunkSizeYieldsTheSameReads) {
    const std::string input = "HELLO\r\nline two\nbin:\x01\x02\x03\x04|tail-without-newline";
    for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
        StreamReader reader(loop);
        auto consume = [](StreamReader r) -> Task<std::vector<std::string>> {
            std::vector<std::string> got;
            got.push_back(text(co_await r.readuntil(bytes("\r\n"))));
            got.push_back(text(co_await r.readline()));
            got.push_back(text(co_await r.readexactly(4)));
            got.push_back(text(co_await r.readexactly(4)));
            got.push_back(text(co_await r.readuntil(bytes("|"))));
            got.push_back(text(co_await r.readline())); // EOF: the unterminated rest
            got.push_back(text(co_await r.readline())); // then empty
            EXPECT_TRUE(r.at_eof());
            co_return got;
        };
        auto feeder = loop.create_task(feed_in_chunks(reader, input, chunk));
        auto got = loop.run_until_complete(consume(reader));
        EXPECT_EQ(got,
                  (std::vector<std::string>{"HELLO\r\n", "line two\n", "bin:", "\x01\x02\x03\x04",
                                            "|", "tail-without-newline", ""}))
            << "chunk size " << chunk;
        EXPECT_TRUE(feeder.done());
    }
}

TEST_F(StreamReaderTest, ReadReturnsWhatIsThereAndReadAllWaitsForEof) {
    StreamReader reader(loop);
    reader.feed_data("abcdef");
    auto some = [](StreamReader r) -> Task<std::string> { co_return text(co_await r.read(4)); };
    EXPECT_EQ(loop.run_until_complete(some(reader)), "abcd");
    EXPECT_EQ(reader.buffered(), 2u);
    auto all = [](StreamReader r) -> Task<std::string> { co_return text(co_await r.read()); };
    auto task = loop.create_task(all(reader));
    loop.call_later(1ms, [&] {
        reader.feed_data("gh");
        reader.feed_eof();
    });
    EXPECT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_EQ(task.result(), "efgh");
    EXPECT_EQ(loop.run_until_complete(some(reader)), ""); // at EOF
}

TEST_F(StreamReaderTest, EofInTheMiddleOfReadexactlyGivesThePartialBytes) {
    StreamReader reader(loop);
    reader.feed_data("abc");
    reader.feed_eof();
    auto exact = [](StreamReader r) -> Task<void> { co_await r.readexactly(10); };
    try {
        loop.run_until_complete(exact(reader));
        ADD_FAILURE() << "no IncompleteReadError";
    } catch (const IncompleteReadError& e) {
        EXPECT_EQ(text(e.partial), "abc");
        EXPECT_EQ(e.expected, 10u);
        EXPECT_EQ(std::string(e.what()).rfind("3 bytes read on a total of 10 expected bytes", 0),
                  0u);
    }
}

TEST_F(StreamReaderTest, LimitOverrunKeepsTheDataAndReadlineResynchronises) {
    StreamReader reader(loop, 8);
    reader.feed_data("0123456789ABCDEF\nnext\n");
    auto until = [](StreamReader r) -> Task<void> { co_await r.readuntil(bytes("\n")); };
    try {
        loop.run_until_complete(until(reader));
        ADD_FAILURE() << "no LimitOverrunError";
    } catch (const LimitOverrunError& e) {
        EXPECT_EQ(e.consumed, 16u);
        EXPECT_EQ(e.code(), errc::limit_overrun);
    }
    EXPECT_EQ(reader.buffered(), 22u); // nothing was consumed
    auto line = [](StreamReader r) -> Task<std::string> { co_return text(co_await r.readline()); };
    EXPECT_THROW(loop.run_until_complete(line(reader)), LimitOverrunError);
    EXPECT_EQ(loop.run_until_complete(line(reader)), "next\n"); // the next line is intact

    StreamReader unterminated(loop, 4);
    unterminated.feed_data("no newline here");
    try {
        loop.run_until_complete(until(unterminated));
        ADD_FAILURE() << "no LimitOverrunError";
    } catch (const LimitOverrunError& e) {
        EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos);
    }
}

TEST_F(StreamReaderTest, SeveralSeparatorsTheShortestChunkWins) {
    StreamReader reader(loop);
    reader.feed_data("a;b\r\nc");
    auto until = [](StreamReader r) -> Task<std::string> {
        std::vector<Bytes> separators;
        separators.push_back(bytes("\r\n"));
        separators.push_back(bytes(";"));
        co_return text(co_await r.readuntil(std::move(separators)));
    };
    EXPECT_EQ(loop.run_until_complete(until(reader)), "a;");
    EXPECT_EQ(loop.run_until_complete(until(reader)), "b\r\n");
    EXPECT_THROW(loop.run_until_complete(
                     [](StreamReader r) -> Task<void> { co_await r.readuntil(Bytes{}); }(reader)),
                 Error);
}

// What ByteView accepts works as a separator: literals, strings, byte vectors; several as
// arguments, as a braced list (outside co_await: GCC 12) or from a container. Separators
// given as temporaries are copied before the lazy task runs.
TEST_F(StreamReaderTest, SeparatorsTakeWhatByteViewTakes) {
    StreamReader reader(loop);
    reader.feed_data("one;two#three|four\r\nfive\nsix.seven");
    auto read_all_forms = [](StreamReader r) -> Task<std::vector<std::string>> {
        std::vector<std::string> got;
        got.push_back(text(co_await r.readuntil(";")));
        got.push_back(text(co_await r.readuntil("#", "|")));
        Task<Bytes> braced = r.readuntil({"#", "|"}); // a braced list, then awaited
        got.push_back(text(co_await std::move(braced)));
        got.push_back(text(co_await r.readuntil(std::string("\r\n"), "\n", ByteView("x"))));
        Task<Bytes> from_temporary = r.readuntil(std::string("\n")); // the string ends here
        got.push_back(text(co_await std::move(from_temporary)));
        const std::vector<Bytes> container{bytes("."), bytes("!")};
        got.push_back(text(co_await r.readuntil(container)));
        // Longer than the 16 bytes a separator is kept inline in.
        got.push_back(text(co_await r.readuntil("--a-rather-long-boundary--")));
        co_return got;
    };
    reader.feed_data("seven and then --a-rather-long-boundary--after");
    EXPECT_EQ(loop.run_until_complete(read_all_forms(reader)),
              (std::vector<std::string>{"one;", "two#", "three|", "four\r\n", "five\n", "six.",
                                        "sevenseven and then --a-rather-long-boundary--"}));
    EXPECT_EQ(reader.buffered(), 5u); // "after"
}

// A readline, readuntil or readexactly that waits is woken once its chunk is complete, not
// per receive: until then it stays parked, a cancel consumes nothing, and the search that
// passes the limit ends it with LimitOverrunError.
TEST_F(StreamReaderTest, AParkedChunkReadEndsWhenItsChunkIsCompleteOrOverrunsTheLimit) {
    StreamReader reader(loop, 8);
    auto line = [](StreamReader r) -> Task<std::string> { co_return text(co_await r.readline()); };
    auto waiting = loop.create_task(line(reader));
    loop.run_once(false);
    reader.feed_data("ab");
    reader.feed_data("c");
    loop.run_once(false);
    EXPECT_FALSE(waiting.done());
    reader.feed_data("d\nrest");
    EXPECT_TRUE(test::run_until(
        loop, [&] { return waiting.done(); }, 5s));
    EXPECT_EQ(waiting.result(), "abcd\n");
    EXPECT_EQ(reader.buffered(), 4u);

    auto cancelled = loop.create_task(line(reader));
    loop.run_once(false);
    reader.feed_data("-"); // still no newline
    cancelled.cancel();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return cancelled.done(); }, 5s));
    EXPECT_TRUE(cancelled.cancelled());
    EXPECT_EQ(reader.buffered(), 5u); // "rest-": nothing consumed

    // readuntil keeps an over-long chunk; readline drops it and starts on a fresh line.
    auto until = [](StreamReader r) -> Task<void> { co_await r.readuntil("|"); };
    auto overrun = loop.create_task(until(reader));
    loop.run_once(false);
    reader.feed_data("0123"); // 9 bytes without "|": past the limit of 8
    EXPECT_TRUE(test::run_until(
        loop, [&] { return overrun.done(); }, 5s));
    EXPECT_THROW(overrun.result(), LimitOverrunError);
    EXPECT_EQ(reader.buffered(), 9u);
    auto dropped = loop.create_task(line(reader));
    EXPECT_TRUE(test::run_until(
        loop, [&] { return dropped.done(); }, 5s));
    EXPECT_THROW(dropped.result(), LimitOverrunError);
    EXPECT_EQ(reader.buffered(), 0u);
    reader.feed_data("fresh\n");
    EXPECT_EQ(loop.run_until_complete(line(reader)), "fresh\n");
}

TEST_F(StreamReaderTest, ChunkReadsConvertToTasksAndWorkUnderWaitFor) {
    StreamReader reader(loop);
    auto body = [](StreamReader r) -> Task<std::string> {
        bool timed_out = false;
        try {
            co_await wait_for(r.readline(), 5ms);
        } catch (const TimeoutError&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        // read(-1) runs a Task of reads inside its awaiter: the timeout ends the read in it.
        bool all_timed_out = false;
        try {
            co_await wait_for(r.read(), 5ms);
        } catch (const TimeoutError&) {
            all_timed_out = true;
        }
        EXPECT_TRUE(all_timed_out);
        // Timed out after gathering bytes, read(-1) puts them back: nothing is lost.
        r.feed_data("gathered ");
        all_timed_out = false;
        try {
            co_await wait_for(r.read(), 5ms);
        } catch (const TimeoutError&) {
            all_timed_out = true;
        }
        EXPECT_TRUE(all_timed_out);
        EXPECT_EQ(text(co_await wait_for(r.readexactly(9), 5s)), "gathered ");
        r.feed_data("line\n");
        TaskHandle<Bytes> spawned = get_running_loop().create_task(Task<Bytes>(r.readline()));
        Bytes first = co_await spawned;
        Task<Bytes> stored = r.readexactly(5); // stored, awaited later
        r.feed_data("12345");
        Bytes second = co_await std::move(stored);
        r.feed_data("x;");
        Bytes third = co_await wait_for(r.readuntil(";"), 5s);
        co_return text(first) + text(second) + text(third);
    };
    EXPECT_EQ(loop.run_until_complete(body(reader)), "line\n12345x;");
}

TEST_F(StreamReaderTest, ASecondReaderWhileOneWaitsIsAClearError) {
    StreamReader reader(loop);
    auto line = [](StreamReader r) -> Task<std::string> { co_return text(co_await r.readline()); };
    auto first = loop.create_task(line(reader));
    auto second = loop.create_task(line(reader));
    EXPECT_TRUE(test::run_until(
        loop, [&] { return second.done(); }, 5s));
    try {
        second.result();
        ADD_FAILURE() << "second reader accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("already waiting"), std::string::npos);
    }
    reader.feed_data("for the first\n");
    EXPECT_TRUE(test::run_until(
        loop, [&] { return first.done(); }, 5s));
    EXPECT_EQ(first.result(), "for the first\n");
}

TEST_F(StreamReaderTest, ACancelledReadConsumesNothing) {
    StreamReader reader(loop);
    auto exact = [](StreamReader r) -> Task<std::string> {
        co_return text(co_await r.readexactly(6));
    };
    auto waiting = loop.create_task(exact(reader));
    loop.run_once(false);
    reader.feed_data("abc"); // not enough yet
    loop.run_once(false);
    waiting.cancel();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return waiting.done(); }, 5s));
    EXPECT_TRUE(waiting.cancelled());
    EXPECT_EQ(reader.buffered(), 3u);
    reader.feed_data("def");
    EXPECT_EQ(loop.run_until_complete(exact(reader)), "abcdef");
}

TEST_F(StreamReaderTest, AnErrorComesAfterTheBufferedBytes) {
    StreamReader reader(loop);
    reader.feed_data("last words\n");
    reader.set_exception(std::make_exception_ptr(
        ConnectionResetError(uv_error(-104), "connection lost: connection reset by peer")));
    auto line = [](StreamReader r) -> Task<std::string> { co_return text(co_await r.readline()); };
    EXPECT_EQ(loop.run_until_complete(line(reader)), "last words\n");
    EXPECT_THROW(loop.run_until_complete(line(reader)), ConnectionResetError);
}

TEST_F(StreamReaderTest, DataFedFromACallbackResumesTheReaderBeforeReturning) {
    StreamReader reader(loop);
    auto first_line = [](StreamReader r) -> Task<std::string> {
        co_return text(co_await r.readline());
    };
    auto task = loop.create_task(first_line(reader));
    std::size_t buffered_after_feed = 99;
    bool done_after_feed = false;
    loop.call_soon([&] { // FIFO: runs once the new task has started and parked
        reader.feed_data("line\n");
        // Resumed in place (as data_received would run), so the line is already taken.
        buffered_after_feed = reader.buffered();
        done_after_feed = task.done();
    });
    EXPECT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_EQ(buffered_after_feed, 0u);
    EXPECT_TRUE(done_after_feed);
    EXPECT_EQ(task.result(), "line\n");
}

TEST_F(StreamReaderTest, DataFedFromATaskWakesTheReaderOnTheNextIteration) {
    StreamReader reader(loop);
    auto first_line = [](StreamReader r) -> Task<std::string> {
        co_return text(co_await r.readline());
    };
    auto reading = loop.create_task(first_line(reader));
    auto feed = [](StreamReader r, TaskHandle<std::string> other) -> Task<std::size_t> {
        co_await sleep(1ms); // the reader is parked by now
        r.feed_data("line\n");
        EXPECT_FALSE(other.done()); // tasks never nest: it runs after this one yields
        co_return r.buffered();
    };
    EXPECT_EQ(loop.run_until_complete(feed(reader, reading)), 5u);
    EXPECT_TRUE(test::run_until(
        loop, [&] { return reading.done(); }, 5s));
    EXPECT_EQ(reading.result(), "line\n");
}

TEST_F(StreamReaderTest, ReadAwaitedDirectlyIsCancellableAndLeavesTheReaderFree) {
    StreamReader reader(loop);
    auto some = [](StreamReader r, std::ptrdiff_t n) -> Task<std::string> {
        co_return text(co_await r.read(n));
    };
    // A parked read, cancelled: nothing consumed, and the reader takes the next read.
    auto waiting = loop.create_task(some(reader, 4));
    loop.run_once(false);
    auto second = loop.create_task(some(reader, 4)); // while the first waits: an error
    EXPECT_TRUE(test::run_until(
        loop, [&] { return second.done(); }, 5s));
    EXPECT_THROW(second.result(), Error);
    waiting.cancel();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return waiting.done(); }, 5s));
    EXPECT_TRUE(waiting.cancelled());
    reader.feed_data("abcdef");
    EXPECT_EQ(loop.run_until_complete(some(reader, 4)), "abcd");
    EXPECT_EQ(loop.run_until_complete(some(reader, 0)), ""); // read(0): nothing, at once
    EXPECT_EQ(reader.buffered(), 2u);
    // read(-1) through the same awaiter: everything until EOF.
    auto all = loop.create_task(some(reader, -1));
    loop.run_once(false);
    reader.feed_data("gh");
    reader.feed_eof();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return all.done(); }, 5s));
    EXPECT_EQ(all.result(), "efgh");
    EXPECT_EQ(loop.run_until_complete(some(reader, 4)), ""); // at EOF: empty
}

TEST_F(StreamReaderTest, AReceiveThatFitsTheParkedReadGoesStraightToIt) {
    StreamReader reader(loop);
    auto some = [](StreamReader r, std::ptrdiff_t n) -> Task<std::string> {
        co_return text(co_await r.read(n));
    };
    // What a transport's read callback does: receive into prepare()'s space, then commit().
    auto receive = [&](std::string_view data) {
        const std::span<std::byte> space = reader.prepare(data.size());
        ASSERT_GE(space.size(), data.size());
        std::memcpy(space.data(), data.data(), data.size());
        reader.commit(data.size());
    };
    // Fits read(8): the read resumes inside commit() with all of it; nothing is buffered.
    auto fits = loop.create_task(some(reader, 8));
    loop.run_once(false);
    receive("12345");
    EXPECT_TRUE(fits.done());
    EXPECT_EQ(fits.result(), "12345");
    EXPECT_EQ(reader.buffered(), 0u);
    // More than read(3) asks for: it gets 3 and the rest waits in the buffer.
    auto part = loop.create_task(some(reader, 3));
    loop.run_once(false);
    receive("abcdef");
    EXPECT_TRUE(part.done());
    EXPECT_EQ(part.result(), "abc");
    EXPECT_EQ(reader.buffered(), 3u);
    EXPECT_EQ(loop.run_until_complete(some(reader, 10)), "def");
    // A bulk receive (past the size that lands in the reader's buffer) that fits the read is
    // staged and handed over the same way.
    const std::string bulk(100'000, 'b');
    auto whole = loop.create_task(some(reader, 256 * 1024));
    loop.run_once(false);
    receive(bulk);
    EXPECT_TRUE(whole.done());
    EXPECT_EQ(whole.result(), bulk);
    EXPECT_EQ(reader.buffered(), 0u);
    // Cancelled but not resumed yet when the bytes come: it takes none of them.
    auto cancelled = loop.create_task(some(reader, 8));
    loop.run_once(false);
    cancelled.cancel();
    receive("kept");
    EXPECT_TRUE(test::run_until(
        loop, [&] { return cancelled.done(); }, 5s));
    EXPECT_TRUE(cancelled.cancelled());
    EXPECT_EQ(reader.buffered(), 4u);
    EXPECT_EQ(loop.run_until_complete(some(reader, 8)), "kept");
    // After EOF a commit is ignored, a parked read or not.
    reader.feed_eof();
    receive("late");
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_EQ(loop.run_until_complete(some(reader, 8)), "");
}

TEST_F(StreamReaderTest, ReadConvertsToATaskAndWorksUnderWaitFor) {
    StreamReader reader(loop);
    auto body = [](StreamReader r) -> Task<std::string> {
        // A timeout on a read that gets nothing: TimeoutError, and nothing is lost after.
        bool timed_out = false;
        try {
            co_await wait_for(r.read(10), 5ms);
        } catch (const TimeoutError&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        r.feed_data("late");
        // Spawned: a read is a Task when it has to be one.
        TaskHandle<Bytes> spawned = get_running_loop().create_task(Task<Bytes>(r.read(10)));
        Bytes first = co_await spawned;
        Task<Bytes> stored = r.read(10); // stored, awaited later
        r.feed_data(" bytes");
        Bytes second = co_await std::move(stored);
        co_return text(first) + text(second);
    };
    EXPECT_EQ(loop.run_until_complete(body(reader)), "late bytes");
}

class StreamsTest : public LoopTest {};

Task<void> echo_lines(StreamReader reader, StreamWriter writer) {
    for (;;) {
        Bytes line = co_await reader.readline();
        if (line.empty()) {
            co_return;
        }
        writer.write(line);
        co_await writer.drain();
    }
}

TEST_F(StreamsTest, OpenConnectionAndStartServerEchoLines) {
    auto body = [](Loop& l) -> Task<std::vector<std::string>> {
        auto server = co_await start_server(l, echo_lines, "127.0.0.1", 0);
        auto [reader, writer] = co_await open_connection(l, "127.0.0.1", server->port());
        std::vector<std::string> got;
        for (const char* line : {"first\n", "second\n", "third\n"}) {
            writer.write(line);
            co_await writer.drain();
            got.push_back(text(co_await reader.readline()));
        }
        EXPECT_EQ(server->client_count(), 1u);
        writer.write_eof(); // the handler sees EOF, returns, and its connection is closed
        got.push_back(text(co_await reader.read()));
        co_await writer.wait_closed();
        server->close();
        co_await server->wait_closed();
        co_return got;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop)),
              (std::vector<std::string>{"first\n", "second\n", "third\n", ""}));
}

// A readexactly longer than twice the reader's limit: the reader pauses a transport only
// while no read waits for more than is buffered, so the read completes.
TEST_F(StreamsTest, ReadexactlyLongerThanTwiceTheLimitCompletes) {
    constexpr std::size_t total = 8192;
    auto server = loop.run_until_complete(start_server(
        loop,
        [](StreamReader, StreamWriter writer) -> Task<void> {
            std::string block(total, '\0');
            for (std::size_t i = 0; i < total; ++i) {
                block[i] = static_cast<char>('a' + i % 26);
            }
            // In pieces, so that what is buffered passes 2 x limit before the read is answered.
            for (std::size_t at = 0; at < total; at += 1024) {
                writer.write(ByteView(block).subview(at, 1024));
                co_await writer.drain();
                co_await sleep(1ms);
            }
        },
        "127.0.0.1", 0));
    auto client = [](std::uint16_t port) -> Task<std::string> {
        auto [reader, writer] =
            co_await open_connection(get_running_loop(), "127.0.0.1", port, {}, /*limit=*/1024);
        Bytes all = co_await wait_for(reader.readexactly(total), 5s);
        writer.close();
        co_return text(all);
    };
    const std::string got = loop.run_until_complete(client(server->port()));
    ASSERT_EQ(got.size(), total);
    for (std::size_t i = 0; i < total; ++i) {
        ASSERT_EQ(got[i], static_cast<char>('a' + i % 26)) << "at " << i;
    }
    server->close();
    loop.run_until_complete(server->wait_closed());
}

TEST_F(StreamsTest, DrainRaisesWhenTheConnectionIsLost) {
    auto body = [](Loop& l) -> Task<void> {
        auto server = co_await start_server(
            l,
            [](StreamReader, StreamWriter w) -> Task<void> {
                // Close with a reset: the peer vanishes mid-conversation.
                test::set_reset_on_close(w.transport().native_handle());
                w.transport().abort();
                co_return;
            },
            "127.0.0.1", 0);
        auto [reader, writer] = co_await open_connection(l, "127.0.0.1", server->port());
        co_await writer.wait_closed();
        writer.write("into the void");
        server->close();
        co_await writer.drain(); // must not pretend the bytes went anywhere
    };
    EXPECT_THROW(loop.run_until_complete(body(loop)), ConnectionResetError);
}

Task<void> drain_once(StreamWriter writer) {
    co_await writer.drain();
}

TEST_F(StreamsTest, DrainWaitsWhilePausedIsCancellableAndReturnsOnceTheBufferDrains) {
    auto body = [](Loop& l) -> Task<std::size_t> {
        auto go = std::make_shared<Event>();
        // The server reads nothing until told: the client's writes pile up and pause it.
        ClientConnected read_when_told = [go](StreamReader r, StreamWriter) -> Task<void> {
            co_await go->wait();
            while (!(co_await r.read(64 * 1024)).empty()) {
            }
        };
        auto server = co_await start_server(l, read_when_told, "127.0.0.1", 0);
        auto [reader, writer] = co_await open_connection(l, "127.0.0.1", server->port());
        writer.transport().set_write_buffer_limits(64 * 1024, 16 * 1024);
        const std::string chunk(256 * 1024, 'x');
        std::size_t written = 0;
        while (writer.transport().write_buffer_size() <= 64 * 1024) {
            writer.write(chunk); // until the kernel's buffers are full and the queue grows
            written += chunk.size();
            co_await sleep(1ms);
        }
        // Paused: a drain parks, and cancelling it leaves the writer usable.
        auto parked = l.create_task(drain_once(writer)); // awaited directly, as users do
        co_await sleep(5ms);
        EXPECT_FALSE(parked.done());
        parked.cancel();
        co_await sleep(1ms);
        EXPECT_TRUE(parked.cancelled());
        go->set(); // the server reads: the queue drains, resume_writing wakes the next drain
        co_await writer.drain();
        EXPECT_LE(writer.transport().write_buffer_size(), 16u * 1024);
        writer.close();
        co_await writer.wait_closed();
        server->close();
        co_await server->wait_closed(); // the server read to EOF: everything arrived
        co_return written;
    };
    EXPECT_GT(loop.run_until_complete(body(loop)), 64u * 1024);
}

TEST_F(StreamsTest, AZeroLimitIsRefusedBeforeAnythingListensOrConnects) {
    auto refused = [](auto&& attempt) {
        try {
            attempt();
        } catch (const Error& e) {
            return std::string(e.what()).find("limit must be > 0") != std::string::npos;
        }
        return false;
    };
    EXPECT_TRUE(refused(
        [&] { loop.run_until_complete(start_server(loop, echo_lines, "127.0.0.1", 0, {}, 0)); }));
    // Port 9 would refuse the connection: the limit must be what is reported.
    EXPECT_TRUE(
        refused([&] { loop.run_until_complete(open_connection(loop, "127.0.0.1", 9, {}, 0)); }));
    EXPECT_TRUE(refused([&] { StreamReader reader(loop, 0); }));
}

TEST_F(StreamsTest, AReaderThatDoesNotReadPausesTheTransport) {
    auto body = [](Loop& l) -> Task<std::size_t> {
        const std::string chunk(64 * 1024, 'x');
        // Bound to a local, not built inside the co_await expression: GCC 12 destroys
        // non-trivial temporaries there twice (GCC PR 99576).
        ClientConnected send_a_mebibyte = [chunk](StreamReader, StreamWriter w) -> Task<void> {
            for (int i = 0; i < 16; ++i) { // 1 MiB, far above the reader's 2 x 4 KiB
                w.write(chunk);
                co_await w.drain();
            }
        };
        auto server = co_await start_server(l, send_a_mebibyte, "127.0.0.1", 0);
        auto [reader, writer] = co_await open_connection(l, "127.0.0.1", server->port(), {}, 4096);
        while (reader.buffered() <= 2 * 4096) {
            co_await sleep(1ms);
        }
        co_await sleep(20ms);
        EXPECT_FALSE(writer.transport().is_reading()); // paused above twice the limit
        // At most one receive (the loop's 256 KiB read buffer) past the bound, as asyncio's.
        EXPECT_LE(reader.buffered(), 2u * 4096 + 256 * 1024);
        Bytes all = co_await reader.read(); // reading resumes the transport until EOF
        server->close();
        co_return all.size();
    };
    EXPECT_EQ(loop.run_until_complete(body(loop)), 16u * 64 * 1024);
}

TEST_F(StreamsTest, AHandlerThatAbortsOrClosesInsideItsFirstReadIsSafe) {
    // The handler is resumed inside the transport's read callback while more data is still
    // in the socket: aborting or closing there must end the connection once, cleanly.
    for (const bool abort : {true, false}) {
        auto body = [](Loop& l, bool abort_it) -> Task<std::size_t> {
            ClientConnected handler = [abort_it](StreamReader r, StreamWriter w) -> Task<void> {
                Bytes first = co_await r.read(1);
                EXPECT_EQ(first.size(), 1u);
                if (abort_it) {
                    w.transport().abort();
                } else {
                    w.write("bye");
                    w.close();
                }
                co_await w.wait_closed();
            };
            auto server = co_await start_server(l, handler, "127.0.0.1", 0);
            auto [reader, writer] = co_await open_connection(l, "127.0.0.1", server->port());
            const std::string mebibyte(1024 * 1024, 'x');
            writer.write(mebibyte);
            Bytes reply;
            try {
                reply = co_await reader.read(); // until the server's side ends
            } catch (const ConnectionResetError&) {
                // abort() may reset the connection: also a clean end for this test
            }
            writer.close();
            co_await writer.wait_closed();
            while (server->client_count() > 0) {
                co_await sleep(1ms);
            }
            server->close();
            co_await server->wait_closed();
            co_return reply.size();
        };
        const std::size_t reply = loop.run_until_complete(body(loop, abort));
        EXPECT_EQ(reply, abort ? 0u : 3u);
    }
}

TEST_F(StreamsTest, CancelClientsEndsHandlersAndTheirConnections) {
    auto body = [](Loop& l) -> Task<bool> {
        auto server = co_await start_server(
            l, [](StreamReader r, StreamWriter) -> Task<void> { co_await r.read(); }, "127.0.0.1",
            0);
        auto [reader, writer] = co_await open_connection(l, "127.0.0.1", server->port());
        while (server->client_count() == 0) {
            co_await sleep(1ms);
        }
        server->close();
        server->cancel_clients();
        co_await server->wait_closed();
        co_return (co_await reader.read()).empty(); // the client sees the connection close
    };
    EXPECT_TRUE(loop.run_until_complete(body(loop)));
}

TEST_F(StreamsTest, UnixSocketStreams) {
    const std::string path = test::local_socket_name("streams");
    auto body = [](Loop& l, std::string p) -> Task<std::string> {
        auto server = co_await start_unix_server(l, echo_lines, p);
        auto [reader, writer] = co_await open_unix_connection(l, p);
        writer.write("over a unix socket\n");
        auto line = text(co_await reader.readline());
        writer.close();
        server->close();
        co_await server->wait_closed();
        co_return line;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop, path)), "over a unix socket\n");
    auto missing = [](Loop& l, std::string p) -> Task<void> {
        co_await open_unix_connection(l, p);
    };
    EXPECT_THROW(loop.run_until_complete(missing(loop, test::local_socket_name("missing"))), Error);
}

TEST_F(StreamsTest, ConnectFailuresAreErrorsAndCancelledConnectsLeakNothing) {
    auto refused = [](Loop& l) -> Task<void> { co_await open_connection(l, "127.0.0.1", 1); };
    try {
        loop.run_until_complete(refused(loop));
        ADD_FAILURE() << "connected to port 1";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos);
    }
    auto accepted = std::make_shared<test::Recording>();
    auto server = test::start_server(loop, test::recording_factory(accepted));
    auto connect = [](Loop& l, std::uint16_t port) -> Task<void> {
        co_await open_connection(l, "127.0.0.1", port);
    };
    auto task = loop.create_task(connect(loop, server->port()));
    task.cancel(); // before the connect completes
    EXPECT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_TRUE(task.cancelled());
    // The connection that completed anyway is aborted: the server sees it come and go.
    EXPECT_TRUE(test::run_until(
        loop, [&] { return accepted->made == 1 && accepted->lost == 1; }, 5s));
    EXPECT_EQ(server->client_count(), 0u);
    server->close();
}

TEST_F(StreamsTest, ExecutorResultsAreAwaitable) {
    auto body = [](Loop& l) -> Task<int> {
        const int value = co_await run_in_executor(l, [] { return 6 * 7; });
        co_await run_in_executor(l, [] {});
        co_return value;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop)), 42);
}

} // namespace
} // namespace ferry

namespace ferry {
namespace {

TEST_F(StreamsTest, CancellingDrainAndWaitClosedLeavesTheConnectionUsable) {
    auto body = [](Loop& l) -> Task<std::string> {
        auto server = co_await start_server(l, echo_lines, "127.0.0.1", 0);
        auto [reader, writer] = co_await open_connection(l, "127.0.0.1", server->port());
        auto closing = l.create_task(writer.wait_closed());
        co_await sleep(std::chrono::milliseconds(1));
        closing.cancel();
        co_await sleep(std::chrono::milliseconds(1));
        EXPECT_TRUE(closing.cancelled());
        writer.write("still works\n");
        co_await writer.drain();
        auto line = text(co_await reader.readline());
        writer.close();
        co_await writer.wait_closed();
        server->close();
        co_await server->wait_closed();
        co_return line;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop)), "still works\n");
}

TEST_F(StreamReaderTest, BulkReadsHandOverTheBufferAndStayCorrect) {
    StreamReader reader(loop);
    const std::string big(100'000, 'b');
    reader.feed_data(big);
    reader.feed_data("tail");
    reader.feed_eof();
    auto all = [](StreamReader r) -> Task<std::string> { co_return text(co_await r.read()); };
    EXPECT_EQ(loop.run_until_complete(all(reader)), big + "tail");
    StreamReader second(loop);
    second.feed_data("x");
    auto one = [](StreamReader r) -> Task<std::size_t> {
        Bytes b = co_await r.read(10);
        co_return b.capacity();
    };
    EXPECT_LT(loop.run_until_complete(one(second)),
              1024u); // small reads are copied, not handed over
}

TEST_F(StreamsTest, SerialPortsAsStreams) {
    if (const std::string why = test::SimulatedDevice::unavailable(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    test::SimulatedDevice device;
    // The instrument sends readings split at awkward places, as a UART would deliver them.
    ASSERT_TRUE(device.peer().write("T=21."));
    auto body = [](Loop& l, std::string path, test::Peer* uart) -> Task<std::vector<std::string>> {
        SerialOptions options;
        options.baud_rate = 115200;
        auto [reader, writer] = co_await open_serial_connection(l, path, options);
        EXPECT_NE(dynamic_cast<SerialTransport*>(&writer.transport()), nullptr);
        std::vector<std::string> got;
        EXPECT_TRUE(uart->write("5\nT=2"));
        got.push_back(text(co_await reader.readline()));
        EXPECT_TRUE(uart->write("2.0\n"));
        got.push_back(text(co_await reader.readline()));
        writer.write("READ?\n");
        co_await writer.drain();
        co_await dynamic_cast<SerialTransport&>(writer.transport()).drain_to_wire();
        writer.close();
        co_await writer.wait_closed();
        co_return got;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop, device.path(), &device.peer())),
              (std::vector<std::string>{"T=21.5\n", "T=22.0\n"}));
    EXPECT_EQ(test::peer_read(loop, device.peer(), 6), "READ?\n");
    auto missing = [](Loop& l) -> Task<void> {
        co_await open_serial_connection(l, test::missing_serial_port);
    };
    try {
        loop.run_until_complete(missing(loop));
        ADD_FAILURE() << "opening a missing port succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "no such serial port: " + std::string(test::missing_serial_port) +
                      " (is the device plugged in?)");
    }
}

} // namespace
} // namespace ferry
