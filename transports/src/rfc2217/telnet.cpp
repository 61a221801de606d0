// The telnet decoder and encoders (RFC 854/855), as RFC 2217 needs them.
#include <ferry/telnet.hpp>

#include <cstring>

namespace ferry::telnet {

void Decoder::feed(ByteView input, Sink& sink) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(input.data());
    const std::size_t size = input.size();
    std::size_t i = 0;
    while (i < size) {
        switch (state_) {
        case State::data: {
            // The longest run without IAC goes out as one view.
            const void* found = std::memchr(bytes + i, iac, size - i);
            const std::size_t end =
                found ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(found) - bytes)
                      : size;
            if (end > i) {
                sink.telnet_data(ByteView(bytes + i, end - i));
            }
            i = end;
            if (i < size) {
                state_ = State::command;
                ++i;
            }
            break;
        }
        case State::command: {
            const std::uint8_t b = bytes[i++];
            state_ = State::data;
            if (b == iac) {
                // IAC IAC is one data byte 0xFF.
                sink.telnet_data(ByteView(bytes + i - 1, 1));
            } else if (b >= static_cast<std::uint8_t>(Verb::will_) &&
                       b <= static_cast<std::uint8_t>(Verb::dont)) {
                verb_ = static_cast<Verb>(b);
                state_ = State::verb;
            } else if (b == sb) {
                state_ = State::sb_option;
            } else {
                sink.telnet_command(b);
            }
            break;
        }
        case State::verb:
            state_ = State::data;
            sink.telnet_negotiation(verb_, bytes[i++]);
            break;
        case State::sb_option:
            sb_option_ = bytes[i++];
            sb_payload_.clear();
            sb_too_long_ = false;
            state_ = State::sb_data;
            break;
        case State::sb_data: {
            const std::uint8_t b = bytes[i++];
            if (b == iac) {
                state_ = State::sb_command;
            } else if (sb_payload_.size() < max_subnegotiation) {
                sb_payload_.push_back(static_cast<std::byte>(b));
            } else {
                sb_too_long_ = true;
            }
            break;
        }
        case State::sb_command: {
            const std::uint8_t b = bytes[i++];
            if (b == iac) {
                state_ = State::sb_data; // a doubled 0xFF in the payload
                if (sb_payload_.size() < max_subnegotiation) {
                    sb_payload_.push_back(std::byte{iac});
                } else {
                    sb_too_long_ = true;
                }
            } else if (b == se) {
                state_ = State::data;
                if (sb_too_long_) {
                    sink.telnet_error("subnegotiation longer than 1024 bytes dropped");
                } else {
                    sink.telnet_subnegotiation(sb_option_, sb_payload_);
                }
            } else {
                // IAC and anything but IAC or SE inside a subnegotiation: the peer broke the
                // framing. Drop the subnegotiation and read the byte as a command, so a lost
                // IAC SE costs one subnegotiation, not the rest of the stream.
                state_ = State::command;
                sink.telnet_error("subnegotiation not ended by IAC SE dropped");
                --i;
            }
            break;
        }
        }
    }
}

void append_escaped(ByteView data, Bytes& out) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
    std::size_t i = 0;
    while (i < data.size()) {
        const void* found = std::memchr(bytes + i, iac, data.size() - i);
        const std::size_t end =
            found ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(found) - bytes) + 1
                  : data.size();
        out.insert(out.end(), data.data() + i, data.data() + end);
        if (found) {
            out.push_back(std::byte{iac});
        }
        i = end;
    }
}

void append_negotiation(Verb verb, std::uint8_t option, Bytes& out) {
    out.push_back(std::byte{iac});
    out.push_back(static_cast<std::byte>(verb));
    out.push_back(std::byte{option});
}

void append_subnegotiation(std::uint8_t option, ByteView payload, Bytes& out) {
    out.push_back(std::byte{iac});
    out.push_back(std::byte{sb});
    out.push_back(std::byte{option});
    append_escaped(payload, out);
    out.push_back(std::byte{iac});
    out.push_back(std::byte{se});
}

std::string_view verb_name(Verb verb) noexcept {
    switch (verb) {
    case Verb::will_:
        return "WILL";
    case Verb::wont:
        return "WONT";
    case Verb::do_:
        return "DO";
    case Verb::dont:
        return "DONT";
    }
    return "?";
}

} // namespace ferry::telnet
