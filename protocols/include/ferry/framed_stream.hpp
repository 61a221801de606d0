#pragma once
/// FramedStream: a codec on a StreamReader / StreamWriter — co_await read_frame() / write_frame().

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include <ferry/error.hpp>
#include <ferry/framed_protocol.hpp>
#include <ferry/framing/frame_sink.hpp>
#include <ferry/log.hpp>
#include <ferry/streams.hpp>
#include <ferry/task.hpp>
#include <ferry/task_handle.hpp>
#include <ferry/wait.hpp>

namespace ferry {

/// Reads and writes whole frames over a stream pair. read_frame() is cancellable and loses
/// nothing when cancelled (frames already decoded wait for the next call; bytes not yet read
/// stay in the reader). Bad input: an oversized frame throws ferry::Error(frame_too_large) from
/// read_frame() under OversizePolicy::close (the codec has resynchronised, so reading may go
/// on), and is logged and skipped under resynchronise; a malformed frame or bad CRC is logged,
/// counted and skipped. One read_frame() at a time, as with StreamReader. Loop thread only.
template <FrameCodec Codec>
class FramedStream {
public:
    /// Frames `reader` / `writer` with `codec`.
    FramedStream(StreamReader reader, StreamWriter writer, Codec codec,
                 OversizePolicy on_oversize = OversizePolicy::close)
        : reader_(std::move(reader)), writer_(std::move(writer)), codec_(std::move(codec)),
          sink_(*this), on_oversize_(on_oversize) {}
    FramedStream(const FramedStream&) = delete;
    FramedStream& operator=(const FramedStream&) = delete;

    /// The next frame; nothing at end of stream between frames. Throws IncompleteReadError when
    /// the stream ends inside a frame, and the stream's own errors (connection lost...).
    Task<std::optional<Bytes>> read_frame() {
        for (;;) {
            if (!frames_.empty()) {
                Decoded next = std::move(frames_.front());
                frames_.pop_front();
                if (next.error) {
                    throw *next.error; // a FrameError, as the sink reported it
                }
                co_return std::optional<Bytes>(std::move(next.frame));
            }
            Bytes chunk;
            bool gap = false;
            if constexpr (IdleGapFraming<Codec>) {
                if (codec_.buffered() > 0) {
                    // Wait for more only as long as the gap; silence ends the frame (a read
                    // that times out consumes nothing).
                    try {
                        chunk = co_await wait_for(reader_.read(read_size), codec_.idle_gap());
                    } catch (const TimeoutError&) {
                        gap = true;
                    }
                } else {
                    chunk = co_await reader_.read(read_size);
                }
            } else {
                chunk = co_await reader_.read(read_size);
            }
            if (gap) {
                if constexpr (IdleGapFraming<Codec>) {
                    codec_.end_of_frame(sink_);
                }
                continue;
            }
            if (chunk.empty()) { // end of stream
                if constexpr (IdleGapFraming<Codec>) {
                    codec_.end_of_frame(sink_);
                    if (!frames_.empty()) {
                        continue;
                    }
                }
                if (codec_.buffered() > 0) {
                    const std::size_t held = codec_.buffered();
                    codec_.reset();
                    throw IncompleteReadError(Bytes{}, held);
                }
                co_return std::nullopt;
            }
            codec_.decode(chunk, sink_);
        }
    }

    /// Frames `payload`, writes it and waits for the writer's flow control (drain()).
    Task<void> write_frame(Bytes payload) {
        Bytes framed;
        codec_.encode(payload, framed);
        writer_.write(framed);
        co_await writer_.drain();
    }

    /// The reader underneath.
    StreamReader& reader() noexcept { return reader_; }
    /// The writer underneath (close it to end the stream).
    StreamWriter& writer() noexcept { return writer_; }
    /// The codec.
    Codec& codec() noexcept { return codec_; }
    /// Malformed, oversized or bad-CRC frames skipped or reported so far.
    std::uint64_t frame_errors() const noexcept { return frame_errors_; }

private:
    static constexpr std::ptrdiff_t read_size = 65536;

    /// Keeps decoded frames until read_frame() hands them out.
    struct Sink final : FrameSink {
        explicit Sink(FramedStream& s) : stream(s) {}
        FramedStream& stream;
        void frame_decoded(ByteView frame) override {
            stream.frames_.push_back({frame.to_bytes(), std::nullopt});
        }
        void frame_error(const FrameError& error) override {
            ++stream.frame_errors_;
            if (error.code() == make_error_code(errc::frame_too_large) &&
                stream.on_oversize_ == OversizePolicy::close) {
                stream.frames_.push_back({Bytes{}, error}); // thrown in its place in the stream
                return;
            }
            log().warn("{}", error.what());
        }
    };

    StreamReader reader_;
    StreamWriter writer_;
    Codec codec_;
    Sink sink_;
    OversizePolicy on_oversize_;
    /// A decoded frame, or the error read_frame() throws at that point of the stream.
    struct Decoded {
        Bytes frame;
        std::optional<FrameError> error;
    };
    std::deque<Decoded> frames_;
    std::uint64_t frame_errors_ = 0;
};

} // namespace ferry
