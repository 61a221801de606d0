// libFuzzer target: LengthFieldCodec with options chosen by the input, on any input.
#include <ferry/framing/length_field_codec.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) {
        return 0;
    }
    static constexpr unsigned sizes[] = {1, 2, 3, 4, 8};
    ferry::LengthFieldOptions options;
    options.max_frame_length = 1024;
    options.length_field_size = sizes[data[0] % 5];
    options.big_endian = (data[0] & 0x08) != 0;
    options.length_includes_header = (data[0] & 0x10) != 0;
    options.length_field_offset = data[1] % 4;
    options.length_adjustment = static_cast<std::int8_t>(data[2]) % 8;
    options.initial_bytes_to_strip = (data[1] >> 4) % 6;
    ferry::LengthFieldCodec codec(options);
    ferry::fuzz::CheckingSink sink(options.max_frame_length, "length field");
    ferry::fuzz::feed(codec, data + 2, size - 2, sink, options.max_frame_length + 64);
    return 0;
}
