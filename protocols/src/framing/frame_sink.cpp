// FrameSink's default raw_data and the errors codecs share.
#include <ferry/framing/frame_sink.hpp>

#include <ferry/error.hpp>

namespace ferry {

void FrameSink::raw_data(ByteView data) {
    throw Error(make_error_code(errc::invalid_argument),
                "raw_data: " + std::to_string(data.size()) +
                    " raw bytes reached a sink that does not take raw data (override "
                    "FrameSink::raw_data before switching a LineCodec to raw mode)");
}

FrameError frame_too_large(const char* codec, std::size_t size, std::size_t limit,
                           const char* recovery) {
    return FrameError(make_error_code(errc::frame_too_large),
                      std::string(codec) + ": frame of " + std::to_string(size) +
                          " bytes exceeds the maximum of " + std::to_string(limit) + " (" +
                          recovery + ")",
                      size);
}

void refuse_oversized_payload(const char* codec, std::size_t size, std::size_t limit) {
    throw FrameError(make_error_code(errc::frame_too_large),
                     std::string(codec) + ": cannot encode a frame of " + std::to_string(size) +
                         " bytes: it exceeds the maximum of " + std::to_string(limit) +
                         " (its own decoder would refuse it)",
                     size);
}

FrameError bad_frame(const char* codec, const std::string& what, std::size_t size) {
    return FrameError(make_error_code(errc::bad_frame), std::string(codec) + ": " + what, size);
}

} // namespace ferry
