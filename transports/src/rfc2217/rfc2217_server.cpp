// The server end of an RFC 2217 connection: a transport over the accepted connection that
// answers COM-PORT-OPTION commands from an Rfc2217Port and passes the data through.
#include <ferry/error.hpp>
#include <ferry/log.hpp>
#include <ferry/rfc2217.hpp>
#include <ferry/telnet.hpp>

#include "core/layered_transport.hpp"
#include "rfc2217/com_port.hpp"
#include "rfc2217/telnet_options.hpp"

namespace ferry {
namespace {

namespace cp = detail::com_port;
using telnet::Verb;

class Rfc2217Server final : public detail::LayeredTransport<Rfc2217ServerTransport>,
                            private telnet::Sink {
public:
    Rfc2217Server(std::shared_ptr<Transport> lower, std::shared_ptr<Rfc2217Port> port)
        : LayeredTransport(std::move(lower)), port_(std::move(port)),
          options_(detail::TelnetOptions::for_rfc2217()) {
        if (auto peer = peername()) {
            name_ = "rfc2217 " + peer->to_string();
        } else {
            name_ = "rfc2217";
        }
    }

    void begin(std::shared_ptr<Rfc2217Server> self, ProtocolFactory factory) {
        adopt(std::move(self));
        attach();
        // Commands are answered even while the protocol is paused or the device is away
        // (pyserial gives up after 3 s); data waits, up to one bounded buffer.
        set_reading_for_layer(true);
        // Nothing is offered until the client negotiates: a plain TCP client (nc, a script)
        // on an RFC 2217 port sees only the port's bytes.
        start(detail::make_protocol(factory));
    }

    bool can_write_eof() const noexcept override { return true; }

    void notify_modem_status(const ModemStatus& status) override {
        if (!com_port_agreed() || lower_gone()) {
            last_lines_ = status;
            return;
        }
        const std::uint8_t value = cp::encode(status, last_lines_);
        // The lines that changed, as state and delta bits: the mask says which are news.
        std::uint8_t changed = value & 0x0f;
        changed |= status.cd != last_lines_.cd ? cp::modem::cd : 0;
        changed |= status.ri != last_lines_.ri ? cp::modem::ri : 0;
        changed |= status.dsr != last_lines_.dsr ? cp::modem::dsr : 0;
        changed |= status.cts != last_lines_.cts ? cp::modem::cts : 0;
        last_lines_ = status;
        if ((changed & modem_mask_) != 0) {
            send_answer(cp::notify_modemstate, {static_cast<std::uint8_t>(value & modem_mask_)});
        }
    }

    bool com_port_agreed() const noexcept override {
        // Either direction counts. pyserial's reader thread can take the server's DO
        // COM-PORT-OPTION as the answer to a WILL its main thread has not sent yet, and then
        // never sends it: only its DO arrives (seen under load), and it still needs the
        // NOTIFY-MODEMSTATE that agreement triggers.
        return options_.remote_enabled(telnet::option::com_port) ||
               options_.local_enabled(telnet::option::com_port);
    }

private:
    std::string log_name() const override { return name_; }

    void lower_data(ByteView data) override { decoder_.feed(data, *this); }

    void encode(ByteView plain, Bytes& out) override { telnet::append_escaped(plain, out); }

    void lower_lost_before_start(std::error_code) override {} // never idle after begin()

    bool may_send() const noexcept override { return !suspended_by_client_; }

    bool start_reading() noexcept override {
        LayeredTransport::start_reading();
        if (suspend_sent_ && !lower_gone() && !lower_ended()) {
            suspend_sent_ = false;
            send_answer_noexcept(cp::flowcontrol_resume);
        }
        return true;
    }

    void stop_reading() noexcept override {
        LayeredTransport::stop_reading();
        // The protocol is full (the device cannot take more): ask the client to hold its
        // data, so it need not fill the TCP window first.
        if (state() == State::open && com_port_agreed() && !suspend_sent_ && !lower_gone() &&
            !lower_ended()) {
            suspend_sent_ = true;
            send_answer_noexcept(cp::flowcontrol_suspend);
        }
    }

    // ---- telnet ----

    void telnet_data(ByteView data) override {
        if (state() == State::open || state() == State::idle) {
            deliver_plain(data);
        }
    }

    void telnet_negotiation(Verb verb, std::uint8_t option) override {
        if (option == telnet::option::timing_mark) {
            // RFC 860: answered every time, once what came before it has been read (it
            // has: the decoder reports in stream order). The ferry client closes on it.
            if (verb == Verb::do_ && !lower_gone()) {
                Bytes mark;
                telnet::append_negotiation(Verb::will_, telnet::option::timing_mark, mark);
                send_control(mark);
            }
            return;
        }
        Bytes out;
        const bool agreed_before = com_port_agreed();
        options_.receive(verb, option, out);
        if (!offered_) {
            // The client speaks telnet: offer what RFC 2217 needs (pyserial waits for DO
            // BINARY and DO COM-PORT-OPTION; what is already agreed is not asked again).
            offered_ = true;
            options_.request_binary_and_sga(out);
            options_.request_remote(telnet::option::com_port, out);
        }
        send_control(out);
        if (!agreed_before && com_port_agreed()) {
            log().debug("{}: the client agreed to COM-PORT-OPTION", name_);
            // pyserial reads CTS/DSR/RI/CD only from notifications: send the lines at once.
            const ModemStatus now = port_->modem_status();
            last_lines_ = now;
            send_answer(cp::notify_modemstate,
                        {static_cast<std::uint8_t>(cp::encode(now, now) & modem_mask_)});
            if (state() == State::open && !is_reading()) {
                stop_reading(); // paused before the agreement: the client is told now
            }
        }
    }

    void telnet_subnegotiation(std::uint8_t option, ByteView payload) override {
        if (option != telnet::option::com_port || payload.empty()) {
            return; // no other option is agreed, so none can have subnegotiations
        }
        const auto code = std::to_integer<std::uint8_t>(payload.data()[0]);
        const ByteView value = payload.subview(1);
        try {
            command(code, value);
        } catch (const std::exception& error) {
            // A port that throws must not take the connection down; the answer carries what
            // holds now, which tells the client its value was not applied.
            log().warn("{}: {} failed: {}", name_, cp::command_name(code), error.what());
            answer_current(code);
        }
    }

    void telnet_error(std::string_view what) override {
        log().warn("{}: bad telnet input: {}", name_, what);
    }

    // ---- COM-PORT-OPTION ----

    void command(std::uint8_t code, ByteView value) {
        const std::uint8_t first =
            value.empty() ? 0 : std::to_integer<std::uint8_t>(value.data()[0]);
        switch (code) {
        case cp::signature:
            if (value.empty()) {
                const std::string text = port_->signature();
                send_answer(cp::signature, ByteView(text));
            } else {
                log().debug(
                    "{}: client signature '{}'", name_,
                    std::string_view(reinterpret_cast<const char*>(value.data()), value.size()));
            }
            return;
        case cp::set_baudrate: {
            if (value.size() < 4) {
                return malformed(code);
            }
            const std::uint32_t baud = cp::read_u32(value);
            if (baud != 0) {
                SerialOptions wanted = port_->settings();
                wanted.baud_rate = baud;
                port_->apply(wanted);
            }
            return answer_current(code);
        }
        case cp::set_datasize:
            if (first >= 5 && first <= 8) {
                SerialOptions wanted = port_->settings();
                wanted.data_bits = first;
                port_->apply(wanted);
            }
            return answer_current(code);
        case cp::set_parity:
            if (auto parity = cp::decode_parity(first)) {
                SerialOptions wanted = port_->settings();
                wanted.parity = *parity;
                port_->apply(wanted);
            }
            return answer_current(code);
        case cp::set_stopsize:
            if (auto stop_bits = cp::decode_stop_bits(first)) {
                SerialOptions wanted = port_->settings();
                wanted.stop_bits = *stop_bits;
                port_->apply(wanted);
            }
            return answer_current(code);
        case cp::set_control:
            return control(first);
        case cp::flowcontrol_suspend:
            suspended_by_client_ = true;
            return;
        case cp::flowcontrol_resume:
            suspended_by_client_ = false;
            sending_allowed();
            return;
        case cp::set_linestate_mask:
            line_mask_ = first;
            return send_answer(code, {line_mask_});
        case cp::set_modemstate_mask:
            modem_mask_ = first;
            return send_answer(code, {modem_mask_});
        case cp::purge_data:
            if (first == cp::purge_receive) {
                port_->purge(Purge::input);
            } else if (first == cp::purge_transmit) {
                port_->purge(Purge::output);
            } else if (first == cp::purge_both) {
                port_->purge(Purge::both);
            } else {
                return malformed(code);
            }
            return send_answer(code, {first});
        default:
            // NOTIFY-* from a client, or a code past 12: nothing to do.
            log().debug("{}: ignored COM-PORT-OPTION command {}", name_, code);
            return;
        }
    }

    void control(std::uint8_t value) {
        namespace c = cp::control;
        switch (value) {
        case c::flow_none:
        case c::flow_xon_xoff:
        case c::flow_hardware:
        case c::flow_dsr:
        case c::inbound_none:
        case c::inbound_xon_xoff:
        case c::inbound_hardware:
        case c::inbound_dtr: {
            // ferry's ports have one flow setting for both directions.
            static constexpr std::uint8_t inbound_offset = c::inbound_none - c::flow_none;
            const std::uint8_t outbound = value == c::inbound_dtr ? c::flow_dsr
                                          : value >= c::inbound_none && value <= c::inbound_hardware
                                              ? static_cast<std::uint8_t>(value - inbound_offset)
                                              : value;
            SerialOptions wanted = port_->settings();
            wanted.flow_control = *cp::decode_flow(outbound);
            port_->apply(wanted);
            return answer_flow(value >= c::inbound_none && value != c::flow_dsr);
        }
        case c::flow_query:
        case c::flow_dcd: // not a flow ferry can apply: the answer says what holds
            return answer_flow(false);
        case c::inbound_query:
            return answer_flow(true);
        case c::break_on:
        case c::break_off:
            port_->set_break(value == c::break_on);
            [[fallthrough]];
        case c::break_query:
            return send_answer(cp::set_control, {port_->break_on() ? c::break_on : c::break_off});
        case c::dtr_on:
        case c::dtr_off:
            port_->set_dtr(value == c::dtr_on);
            [[fallthrough]];
        case c::dtr_query:
            return send_answer(cp::set_control, {port_->dtr() ? c::dtr_on : c::dtr_off});
        case c::rts_on:
        case c::rts_off:
            port_->set_rts(value == c::rts_on);
            [[fallthrough]];
        case c::rts_query:
            return send_answer(cp::set_control, {port_->rts() ? c::rts_on : c::rts_off});
        default:
            return malformed(cp::set_control);
        }
    }

    void answer_flow(bool inbound) {
        namespace c = cp::control;
        const std::uint8_t outbound = cp::encode(port_->settings().flow_control);
        std::uint8_t answer = outbound;
        if (inbound) {
            answer = outbound == c::flow_dsr
                         ? c::inbound_dtr
                         : static_cast<std::uint8_t>(outbound + (c::inbound_none - c::flow_none));
        }
        send_answer(cp::set_control, {answer});
    }

    /// Answers a settings command with the value in effect.
    void answer_current(std::uint8_t code) {
        const SerialOptions now = port_->settings();
        switch (code) {
        case cp::set_baudrate: {
            Bytes value;
            cp::append_u32(now.baud_rate, value);
            return send_answer(code, value);
        }
        case cp::set_datasize:
            return send_answer(code, {static_cast<std::uint8_t>(now.data_bits)});
        case cp::set_parity:
            return send_answer(code, {cp::encode(now.parity)});
        case cp::set_stopsize:
            return send_answer(code, {cp::encode(now.stop_bits)});
        case cp::set_control:
            return answer_flow(false);
        default:
            return;
        }
    }

    void malformed(std::uint8_t code) {
        log().warn("{}: malformed {} ignored", name_, cp::command_name(code));
    }

    void send_answer(std::uint8_t code, std::initializer_list<std::uint8_t> value) {
        Bytes bytes;
        for (const std::uint8_t b : value) {
            bytes.push_back(std::byte{b});
        }
        send_answer(code, bytes);
    }

    void send_answer(std::uint8_t code, ByteView value) {
        Bytes payload;
        payload.push_back(std::byte{static_cast<std::uint8_t>(code + cp::server_offset)});
        payload.insert(payload.end(), value.data(), value.data() + value.size());
        Bytes out;
        telnet::append_subnegotiation(telnet::option::com_port, payload, out);
        send_control(out);
    }

    /// A server-initiated FLOWCONTROL command, from a noexcept backend hook.
    void send_answer_noexcept(std::uint8_t code) noexcept {
        try {
            send_answer(code, ByteView());
        } catch (const std::bad_alloc&) {
            fail(std::make_error_code(std::errc::not_enough_memory));
        }
    }

    std::shared_ptr<Rfc2217Port> port_;
    detail::TelnetOptions options_;
    telnet::Decoder decoder_;
    std::string name_;
    ModemStatus last_lines_{};
    std::uint8_t modem_mask_ = 0xff; // RFC 2217's defaults
    std::uint8_t line_mask_ = 0;
    bool suspended_by_client_ = false;
    bool suspend_sent_ = false;
    bool offered_ = false; // our options were offered (after the client's first negotiation)
};

} // namespace

std::shared_ptr<Rfc2217ServerTransport> serve_rfc2217(std::shared_ptr<Transport> connection,
                                                      std::shared_ptr<Rfc2217Port> port,
                                                      ProtocolFactory factory) {
    if (!connection || connection->is_closing() || !port) {
        throw Error(make_error_code(errc::invalid_argument),
                    "serve_rfc2217: the connection is missing or closing, or no port was given");
    }
    auto server = std::make_shared<Rfc2217Server>(std::move(connection), std::move(port));
    server->begin(server, std::move(factory));
    return server;
}

} // namespace ferry
