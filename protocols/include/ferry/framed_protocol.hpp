#pragma once
/// FramedProtocol: a codec on the Transport/Protocol contract — frame_received / send_frame.

#include <chrono>
#include <cstdint>
#include <optional>

#include <ferry/error.hpp>
#include <ferry/framing/frame_sink.hpp>
#include <ferry/log.hpp>
#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/transport.hpp>

namespace ferry {

/// What to do when a frame exceeds the codec's maximum.
enum class OversizePolicy {
    /// Abort the connection; connection_lost gets errc::frame_too_large (the default: a peer
    /// sending oversized frames is usually talking another protocol).
    close,
    /// Log it, drop the frame and go on with the next one (the codec has resynchronised).
    resynchronise,
};

/// A codec that ends frames on silence (IdleGapCodec) and so needs the loop's timers.
template <class C>
concept IdleGapFraming = requires(C codec, FrameSink& sink) {
    { codec.idle_gap() } -> std::convertible_to<std::chrono::microseconds>;
    codec.end_of_frame(sink);
};

/// Subclass and override frame_received(); send with send_frame(). Bytes in any chunking
/// become whole frames; bad input goes to frame_error(), whose default policy logs and carries
/// on after a bad CRC or malformed frame and applies OversizePolicy to an oversized one. A
/// subclass that overrides connection_made or connection_lost must call these first. For
/// idle-gap codecs a loop timer, restarted by every read, ends the frame. Loop thread only.
template <FrameCodec Codec>
class FramedProtocol : public Protocol, protected FrameSink {
public:
    /// Frames with `codec`.
    explicit FramedProtocol(Codec codec, OversizePolicy on_oversize = OversizePolicy::close)
        : codec_(std::move(codec)), on_oversize_(on_oversize) {}
    ~FramedProtocol() override { idle_timer_.cancel(); }

    /// A whole frame arrived; the view is valid only during the call.
    virtual void frame_received(ByteView frame) = 0;
    /// Bad input the codec found and recovered from. The default logs at warning level, and
    /// for errc::frame_too_large under OversizePolicy::close aborts the connection with it.
    void frame_error(const FrameError& error) override {
        ++frame_errors_;
        if (error.code() == make_error_code(errc::frame_too_large) &&
            on_oversize_ == OversizePolicy::close && transport_ != nullptr) {
            log().warn("{}; closing the connection", error.what());
            transport_->abort(error.code());
            return;
        }
        log().warn("{}", error.what());
    }

    /// Frames `payload` and writes it. Throws ferry::Error(closed) when not connected.
    void send_frame(ByteView payload) {
        if (transport_ == nullptr) {
            throw Error(make_error_code(errc::closed), "send_frame: not connected");
        }
        scratch_.clear();
        codec_.encode(payload, scratch_);
        transport_->write(scratch_);
    }

    void connection_made(Transport& transport) override { transport_ = &transport; }
    void data_received(ByteView data) final {
        codec_.decode(data, *this);
        if constexpr (IdleGapFraming<Codec>) {
            restart_idle_timer();
        }
    }
    void connection_lost(std::error_code) override {
        idle_timer_.cancel();
        transport_ = nullptr;
    }

    /// The transport while connected, else null.
    Transport* transport() const noexcept { return transport_; }
    /// The codec (e.g. to switch a LineCodec to raw mode from frame_received).
    Codec& codec() noexcept { return codec_; }
    /// Frames delivered so far.
    std::uint64_t frames_received() const noexcept { return frames_received_; }
    /// Errors reported so far (oversized, malformed, bad CRC).
    std::uint64_t frame_errors() const noexcept { return frame_errors_; }

protected:
    void frame_decoded(ByteView frame) override {
        // After close() or abort() (or the oversize policy's abort) no more frames are
        // delivered, as no more data_received would be, even from the chunk being decoded.
        if (transport_ == nullptr || transport_->is_closing()) {
            return;
        }
        ++frames_received_;
        frame_received(frame);
    }

private:
    void restart_idle_timer() {
        idle_timer_.cancel();
        if (transport_ == nullptr || codec_.buffered() == 0) {
            return;
        }
        idle_timer_ = transport_->loop().call_later(codec_.idle_gap(),
                                                    [this] { codec_.end_of_frame(*this); });
    }

    Codec codec_;
    OversizePolicy on_oversize_;
    Transport* transport_ = nullptr;
    Bytes scratch_;
    CallbackHandle idle_timer_;
    std::uint64_t frames_received_ = 0;
    std::uint64_t frame_errors_ = 0;
};

} // namespace ferry
