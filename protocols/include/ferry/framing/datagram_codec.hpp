#pragma once
/// DatagramCodec: each delivery is one frame, for transports that keep message boundaries
/// (connect_udp: one datagram per data_received, one per write).

#include <cstddef>

#include <ferry/bytes.hpp>
#include <ferry/framing/frame_sink.hpp>

namespace ferry {

/// Frames that are already whole: decode() reports what it is given as one frame, encode()
/// appends the payload as it is. With it, FramedProtocol and RequestClient work over UDP,
/// one frame per datagram. Never holds bytes.
class DatagramCodec {
public:
    /// Frames up to `max_frame` bytes (a datagram's largest payload by default).
    explicit DatagramCodec(std::size_t max_frame = 65507) : max_frame_(max_frame) {}

    /// Reports `datagram` as one frame; a larger one than max_frame is a frame_error, dropped.
    /// An empty one is no frame.
    void decode(ByteView datagram, FrameSink& sink) const {
        if (datagram.size() > max_frame_) {
            sink.frame_error(frame_too_large("datagram", datagram.size(), max_frame_, "dropped"));
        } else if (!datagram.empty()) {
            sink.frame_decoded(datagram);
        }
    }
    /// Appends `payload`; throws FrameError (frame_too_large) above max_frame.
    void encode(ByteView payload, Bytes& out) const {
        if (payload.size() > max_frame_) {
            refuse_oversized_payload("datagram", payload.size(), max_frame_);
        }
        append(out, payload);
    }
    /// Nothing to drop.
    void reset() noexcept {}
    /// Always 0: nothing is held between datagrams.
    std::size_t buffered() const noexcept { return 0; }

private:
    std::size_t max_frame_;
};

} // namespace ferry
