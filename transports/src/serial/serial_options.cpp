// SerialOptions: validation, character time, the one-line summary, which errors can clear.
// Portable.
#include <ferry/serial.hpp>

#include <ferry/error.hpp>

namespace ferry {
namespace {

[[noreturn]] void refuse(const std::string& what) {
    throw Error(make_error_code(errc::invalid_argument), "invalid serial option " + what);
}

double stop_bit_count(StopBits stop_bits) noexcept {
    switch (stop_bits) {
    case StopBits::one:
        return 1.0;
    case StopBits::one_and_half:
        return 1.5;
    case StopBits::two:
        return 2.0;
    }
    return 1.0;
}

} // namespace

void validate(const SerialOptions& options) {
    if (options.baud_rate == 0) {
        refuse("baud_rate: 0 (it must be a positive number of bits per second)");
    }
    if (options.data_bits < 5 || options.data_bits > 8) {
        refuse("data_bits: " + std::to_string(options.data_bits) + " (it must be 5, 6, 7 or 8)");
    }
    if (options.stop_bits == StopBits::one_and_half && options.data_bits != 5) {
        // UARTs send 1.5 stop bits only for 5-bit characters; termios has no other way to ask.
        refuse("stop_bits: 1.5 stop bits need 5 data bits (got " +
               std::to_string(options.data_bits) + ")");
    }
    if (options.rs485) {
        if (options.rs485->delay_before_send.count() < 0 ||
            options.rs485->delay_after_send.count() < 0) {
            refuse("rs485: delays must not be negative");
        }
    }
}

double character_time(const SerialOptions& options) noexcept {
    const double bits = 1.0 + options.data_bits + (options.parity == Parity::none ? 0.0 : 1.0) +
                        stop_bit_count(options.stop_bits);
    return options.baud_rate == 0 ? 0.0 : bits / static_cast<double>(options.baud_rate);
}

std::string describe(const SerialOptions& options) {
    static constexpr char parity_letters[] = {'N', 'E', 'O', 'M', 'S'};
    std::string out = std::to_string(options.baud_rate) + ' ' + std::to_string(options.data_bits) +
                      parity_letters[static_cast<int>(options.parity)];
    out += options.stop_bits == StopBits::one            ? "1"
           : options.stop_bits == StopBits::one_and_half ? "1.5"
                                                         : "2";
    switch (options.flow_control) {
    case FlowControl::none:
        break;
    case FlowControl::rts_cts:
        out += " rts/cts";
        break;
    case FlowControl::xon_xoff:
        out += " xon/xoff";
        break;
    case FlowControl::dsr_dtr:
        out += " dsr/dtr";
        break;
    }
    if (options.rs485) {
        out += " rs485";
    }
    return out;
}

bool serial_error_may_clear(std::error_code error) noexcept {
    // Compared as std::errc: libuv's codes in uv_category() compare equal to them.
    return error == make_error_code(errc::device_removed) ||
           error == std::errc::no_such_file_or_directory ||
           error == std::errc::device_or_resource_busy ||
           error == std::errc::no_such_device_or_address || error == std::errc::no_such_device ||
           error == std::errc::io_error;
}

} // namespace ferry
