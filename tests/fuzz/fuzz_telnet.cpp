// libFuzzer target: the telnet decoder on any input gives the same events in any chunking,
// never keeps a subnegotiation over its bound, and escaping any data decodes back to it.
#include <ferry/telnet.hpp>

#include "fuzz_support.hpp"

namespace {

/// Every event as text; adjacent data runs joined (chunking may split them anywhere).
class Events final : public ferry::telnet::Sink {
public:
    std::string text;
    std::string data;
    void telnet_data(ferry::ByteView bytes) override {
        if (!last_was_data_) {
            text += "D";
        }
        text.append(bytes.as_string_view());
        data.append(bytes.as_string_view());
        last_was_data_ = true;
    }
    void telnet_negotiation(ferry::telnet::Verb verb, std::uint8_t option) override {
        add("N" + std::to_string(static_cast<int>(verb)) + "/" + std::to_string(option));
    }
    void telnet_subnegotiation(std::uint8_t option, ferry::ByteView payload) override {
        if (payload.size() > ferry::telnet::Decoder::max_subnegotiation) {
            ferry::fuzz::fail("a subnegotiation past its bound was delivered");
        }
        add("S" + std::to_string(option) + ":" + std::string(payload.as_string_view()));
    }
    void telnet_command(std::uint8_t command) override { add("C" + std::to_string(command)); }
    void telnet_error(std::string_view what) override { add("E" + std::string(what)); }

private:
    void add(const std::string& event) {
        text += "|" + event + "|";
        last_was_data_ = false;
    }
    bool last_was_data_ = false;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
    const ferry::ByteView bytes(input, size);
    Events whole;
    ferry::telnet::Decoder().feed(bytes, whole);
    const std::size_t chunk = size > 0 ? input[0] % 7 + 1 : 1;
    Events chunked;
    ferry::telnet::Decoder decoder;
    for (std::size_t i = 0; i < size; i += chunk) {
        decoder.feed(bytes.subview(i, std::min(chunk, size - i)), chunked);
    }
    if (chunked.text != whole.text) {
        ferry::fuzz::fail("chunking changed the decoded events");
    }
    ferry::Bytes escaped;
    ferry::telnet::append_escaped(bytes, escaped);
    Events round_trip;
    ferry::telnet::Decoder().feed(escaped, round_trip);
    if (round_trip.data != std::string(bytes.as_string_view())) {
        ferry::fuzz::fail("escaped data did not decode back to itself");
    }
    return 0;
}
