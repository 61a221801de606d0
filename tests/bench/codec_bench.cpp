// codec_bench (Google Benchmark): decode throughput of each framing codec over 64 MiB of
// frames fed in 1-, 64- and 4096-byte chunks, and CRC throughput over 4 KiB blocks. Frames
// carry 32 to 160 payload bytes (96 on average), like instrument readings and device
// telegrams; payload bytes are random, with zeros and SLIP specials among them.
#include <cstdlib>
#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include <ferry/framing.hpp>

namespace {

using namespace ferry;

/// 64 MiB, or FERRY_CODEC_BENCH_MIB (the CTest smoke run uses 1).
std::size_t stream_size() {
    static const std::size_t mib = [] {
        const char* text = std::getenv("FERRY_CODEC_BENCH_MIB");
        const long value = text != nullptr ? std::atol(text) : 0;
        return value > 0 ? static_cast<std::size_t>(value) : std::size_t{64};
    }();
    return mib * 1024 * 1024;
}

/// Counts what the decoder delivers, so nothing is optimised away.
struct CountingSink : FrameSink {
    std::size_t frames = 0;
    std::size_t bytes = 0;
    std::size_t errors = 0;
    void frame_decoded(ByteView frame) override {
        ++frames;
        bytes += frame.size();
    }
    void frame_error(const FrameError&) override { ++errors; }
};

/// Encodes random payloads with `codec` until the stream holds 64 MiB.
template <class Codec>
Bytes make_stream(const Codec& codec, bool printable) {
    std::mt19937 random(42);
    Bytes stream;
    stream.reserve(stream_size() + 512);
    std::string payload;
    while (stream.size() < stream_size()) {
        payload.resize(32 + random() % 129);
        for (char& c : payload) {
            c = printable ? static_cast<char>(' ' + random() % 95) : static_cast<char>(random());
        }
        codec.encode(ByteView(payload), stream);
    }
    return stream;
}

template <class Codec>
void decode_stream(benchmark::State& state, const Codec& prototype, bool printable) {
    static const Bytes stream = make_stream(prototype, printable);
    const auto chunk = static_cast<std::size_t>(state.range(0));
    std::size_t frames = 0;
    for (auto _ : state) {
        Codec codec = prototype;
        CountingSink sink;
        for (std::size_t at = 0; at < stream.size(); at += chunk) {
            codec.decode(ByteView(stream.data() + at, std::min(chunk, stream.size() - at)), sink);
        }
        if (sink.errors != 0) {
            state.SkipWithError("the codec reported errors on valid input");
        }
        frames = sink.frames;
        benchmark::DoNotOptimize(sink.bytes);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
    state.counters["frames"] = static_cast<double>(frames);
}

void BM_Line(benchmark::State& state) {
    decode_stream(state, LineCodec(), true);
}
void BM_LineSeveralDelimiters(benchmark::State& state) {
    LineOptions options;
    options.delimiters = {"\r\n", "\n"};
    decode_stream(state, LineCodec(options), true);
}
void BM_LineRareDelimiter(benchmark::State& state) {
    LineOptions options;
    options.delimiters = {"\r\n", "\x1e"}; // the second never occurs in the text
    decode_stream(state, LineCodec(options), true);
}
void BM_LengthField(benchmark::State& state) {
    LengthFieldOptions options;
    options.initial_bytes_to_strip = 2;
    decode_stream(state, LengthFieldCodec(options), false);
}
void BM_Netstring(benchmark::State& state) {
    decode_stream(state, NetstringCodec(), false);
}
void BM_Cobs(benchmark::State& state) {
    decode_stream(state, CobsCodec(), false);
}
void BM_Slip(benchmark::State& state) {
    decode_stream(state, SlipCodec(), false);
}
void BM_CobsCrc16(benchmark::State& state) {
    decode_stream(state, CrcCodec<CobsCodec>(CobsCodec(), crc::crc16_modbus()), false);
}

void crc_blocks(benchmark::State& state, const Crc& crc) {
    std::string block(4096, '\0');
    std::mt19937 random(7);
    for (char& c : block) {
        c = static_cast<char>(random());
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(crc.compute(ByteView(block)));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * block.size()));
}
void BM_Crc32(benchmark::State& state) {
    crc_blocks(state, crc::crc32());
}
void BM_Crc32c(benchmark::State& state) {
    crc_blocks(state, crc::crc32c());
}
void BM_Crc16Modbus(benchmark::State& state) {
    crc_blocks(state, crc::crc16_modbus());
}
void BM_Crc16Xmodem(benchmark::State& state) {
    crc_blocks(state, crc::crc16_xmodem());
}
void BM_Crc8(benchmark::State& state) {
    crc_blocks(state, crc::crc8_smbus());
}

#define FERRY_CHUNKS ->Arg(1)->Arg(64)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime()
BENCHMARK(BM_Line) FERRY_CHUNKS;
BENCHMARK(BM_LineSeveralDelimiters) FERRY_CHUNKS;
BENCHMARK(BM_LineRareDelimiter) FERRY_CHUNKS;
BENCHMARK(BM_LengthField) FERRY_CHUNKS;
BENCHMARK(BM_Netstring) FERRY_CHUNKS;
BENCHMARK(BM_Cobs) FERRY_CHUNKS;
BENCHMARK(BM_Slip) FERRY_CHUNKS;
BENCHMARK(BM_CobsCrc16) FERRY_CHUNKS;
BENCHMARK(BM_Crc32);
BENCHMARK(BM_Crc32c);
BENCHMARK(BM_Crc16Modbus);
BENCHMARK(BM_Crc16Xmodem);
BENCHMARK(BM_Crc8);

} // namespace

BENCHMARK_MAIN();
