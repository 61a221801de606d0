// Transport's shared parts: protocol ownership and asyncio's write-buffer flow control.
#include <ferry/transport.hpp>

#include <ferry/log.hpp>

namespace ferry {

Transport::~Transport() = default;

void Transport::writelines(std::span<const ByteView> parts) {
    for (const ByteView& part : parts) {
        write(part);
    }
}

WriteBufferLimits make_write_buffer_limits(std::optional<std::size_t> high,
                                           std::optional<std::size_t> low) {
    // asyncio: high defaults to 64 KiB unless only low is given (then 4 * low); low to high / 4.
    const std::size_t new_high = high ? *high : (low ? 4 * *low : 64 * 1024);
    const std::size_t new_low = low ? *low : new_high / 4;
    if (new_low > new_high) {
        throw Error(make_error_code(errc::invalid_argument),
                    "set_write_buffer_limits: low (" + std::to_string(new_low) +
                        ") must not exceed high (" + std::to_string(new_high) + ")");
    }
    return {new_high, new_low};
}

void Transport::set_write_buffer_limits(std::optional<std::size_t> high,
                                        std::optional<std::size_t> low) {
    limits_ = make_write_buffer_limits(high, low);
    maybe_pause_protocol();
    maybe_resume_protocol();
}

std::unique_ptr<Protocol> Transport::set_protocol(std::unique_ptr<Protocol> protocol) {
    if (!protocol) {
        throw Error(make_error_code(errc::invalid_argument), "a transport needs a protocol");
    }
    buffered_ = dynamic_cast<BufferedProtocol*>(protocol.get());
    std::swap(protocol_, protocol);
    return protocol;
}

void Transport::maybe_pause_protocol() {
    if (protocol_paused_ || write_buffer_size() <= limits_.high) {
        return;
    }
    protocol_paused_ = true;
    call_protocol("exception in pause_writing", [this] { protocol_->pause_writing(); });
}

void Transport::maybe_resume_protocol() {
    if (!protocol_paused_ || write_buffer_size() > limits_.low) {
        return;
    }
    protocol_paused_ = false;
    call_protocol("exception in resume_writing", [this] { protocol_->resume_writing(); });
}

void BufferedProtocol::data_received(ByteView data) {
    while (!data.empty()) {
        std::span<std::byte> space = get_buffer(data.size());
        if (space.empty()) {
            throw Error(make_error_code(errc::invalid_argument),
                        "BufferedProtocol::get_buffer returned an empty buffer");
        }
        const std::size_t n = std::min(space.size(), data.size());
        std::copy_n(data.begin(), n, space.begin());
        buffer_updated(n);
        data = data.subview(n);
    }
}

} // namespace ferry
