// The client end of RFC 2217: a SerialTransport over a TCP connection to a remote port.
#include <algorithm>
#include <vector>

#include <ferry/error.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/rfc2217.hpp>
#include <ferry/telnet.hpp>

#include "core/layered_transport.hpp"
#include "rfc2217/com_port.hpp"
#include "rfc2217/pending_commands.hpp"
#include "rfc2217/telnet_options.hpp"

namespace ferry {
namespace {

namespace cp = detail::com_port;
using telnet::Verb;

using Completion = detail::PendingCommands::Completion;

/// The protocol of the TCP connection until the client takes it over: nothing is read.
class Holding final : public Protocol {
    void connection_made(Transport& transport) override { transport.pause_reading(); }
};

class Rfc2217Client final : public detail::LayeredTransport<Rfc2217Transport>,
                            private telnet::Sink {
public:
    Rfc2217Client(std::shared_ptr<Transport> lower, const std::string& host, std::uint16_t port,
                  Rfc2217Options options)
        : LayeredTransport(std::move(lower)), config_(std::move(options)), options_(config_.serial),
          telnet_(detail::TelnetOptions::for_rfc2217()),
          path_("rfc2217://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                ":" + std::to_string(port)),
          commands_(loop(), path_, config_.command_timeout, config_.strict,
                    [this](std::uint8_t code, ByteView value) { take_as_applied(code, value); }) {}

    ~Rfc2217Client() override { fail_modem_waiters(); }

    /// Negotiates, sends the settings, and starts the protocol once they are answered.
    void begin(std::shared_ptr<Rfc2217Client> self, ProtocolFactory factory, Rfc2217Callback done) {
        adopt(self);
        factory_ = std::move(factory);
        connected_ = std::move(done);
        attach();
        set_reading_for_layer(
            true); // answers and notifications are read whatever the protocol does
        Bytes out;
        telnet_.request_binary_and_sga(out);
        telnet_.request_local(telnet::option::com_port, out);
        send_control(out);
        std::weak_ptr<Transport> weak = self;
        agreement_timer_ = loop().call_later(config_.command_timeout, [weak, this] {
            if (weak.lock() && state() == State::idle) {
                fail_connect(make_error_code(errc::connect_timeout),
                             "did not agree to COM-PORT-OPTION within " +
                                 std::to_string(config_.command_timeout.count()) + " ms");
            }
        });
    }

    // ---- SerialTransport ----

    const std::string& path() const noexcept override { return path_; }
    const SerialOptions& options() const noexcept override { return options_; }
    bool can_write_eof() const noexcept override { return false; }
    bool pauses_sender() const noexcept override { return true; }
    std::size_t input_waiting() const override { return 0; }
    std::size_t output_waiting() const override {
        return lower_gone() ? 0 : const_cast<Rfc2217Client*>(this)->lower().write_buffer_size();
    }

    void reconfigure(const SerialOptions& wanted) override {
        require_open("reconfigure");
        validate(wanted);
        send_settings(wanted, false, logging_completion("reconfigure"));
    }

    void set_rts(bool on) override {
        require_open("set_rts");
        send_control_value(on ? cp::control::rts_on : cp::control::rts_off,
                           logging_completion("set_rts"));
    }

    void set_dtr(bool on) override {
        require_open("set_dtr");
        send_control_value(on ? cp::control::dtr_on : cp::control::dtr_off,
                           logging_completion("set_dtr"));
    }

    ModemStatus modem_status() const override {
        if (!modem_known_) {
            throw Error(make_error_code(errc::not_supported),
                        path_ + ": the server has sent no NOTIFY-MODEMSTATE");
        }
        return modem_;
    }

    Task<ModemStatus> wait_modem_change(ModemStatus watch) override {
        require_open("wait_modem_change");
        std::shared_ptr<Transport> keep_alive = shared_from_this();
        Future<ModemStatus> changed(loop());
        modem_waiters_.push_back({watch, modem_, changed});
        co_return co_await changed;
    }

    void send_break(std::chrono::milliseconds duration, SerialCallback done) override {
        if (state() != State::open) {
            loop().call_soon([done = std::move(done)] { done(make_error_code(errc::closed)); });
            return;
        }
        // Writes made during the break wait for its end, as on a local port.
        ++breaks_;
        std::weak_ptr<Transport> weak = shared_from_this();
        send_control_value(cp::control::break_on, [](std::exception_ptr) {});
        loop().call_later(duration, [weak, this, done = std::move(done)]() mutable {
            if (!weak.lock() || state() != State::open) {
                done(make_error_code(errc::closed));
                return;
            }
            send_control_value(cp::control::break_off,
                               [weak, this, done = std::move(done)](std::exception_ptr error) {
                                   if (auto self = weak.lock()) {
                                       --breaks_;
                                       sending_allowed();
                                   }
                                   done(error ? error_code_of(error) : std::error_code());
                               });
        });
    }

    void set_break(bool on) override {
        require_open("set_break");
        if (on == break_held_) {
            return;
        }
        break_held_ = on;
        breaks_ += on ? 1 : -1;
        send_control_value(on ? cp::control::break_on : cp::control::break_off,
                           logging_completion("set_break"));
        if (!on) {
            sending_allowed(); // what was written during the break follows the BREAK OFF
        }
    }

    void purge(Purge which) override {
        require_open("purge");
        purge_local(which);
        send_command(cp::purge_data, {purge_value(which)}, logging_completion("purge"));
    }

    void drain_to_wire(SerialCallback done) override {
        if (state() != State::open) {
            loop().call_soon([done = std::move(done)] { done(make_error_code(errc::closed)); });
            return;
        }
        drain_waiters_.push_back(std::move(done));
        if (write_buffer_size() == 0) {
            queue_drained();
        }
    }

    // ---- Rfc2217Transport ----

    Task<SerialOptions> reconfigure_confirmed(SerialOptions wanted) override {
        require_open("reconfigure");
        validate(wanted);
        std::shared_ptr<Transport> keep_alive = shared_from_this();
        Future<> answered(loop());
        send_settings(wanted, false, settle(answered));
        co_await answered;
        co_return options_;
    }

    Task<void> set_dtr_confirmed(bool on) override {
        require_open("set_dtr");
        std::shared_ptr<Transport> keep_alive = shared_from_this();
        Future<> answered(loop());
        send_control_value(on ? cp::control::dtr_on : cp::control::dtr_off, settle(answered));
        co_await answered;
    }

    Task<void> set_rts_confirmed(bool on) override {
        require_open("set_rts");
        std::shared_ptr<Transport> keep_alive = shared_from_this();
        Future<> answered(loop());
        send_control_value(on ? cp::control::rts_on : cp::control::rts_off, settle(answered));
        co_await answered;
    }

    Task<void> purge_confirmed(Purge which) override {
        require_open("purge");
        std::shared_ptr<Transport> keep_alive = shared_from_this();
        purge_local(which);
        Future<> answered(loop());
        send_command(cp::purge_data, {purge_value(which)}, settle(answered));
        co_await answered;
    }

    const std::string& server_signature() const noexcept override { return signature_; }
    bool suspended_by_server() const noexcept override { return suspended_; }

private:
    struct ModemWaiter {
        ModemStatus watch;
        ModemStatus before;
        Future<ModemStatus> changed;
    };

    std::string log_name() const override { return path_; }

    void require_open(const char* what) const {
        if (state() != State::open) {
            throw Error(make_error_code(errc::closed),
                        std::string(what) + " on " + path_ + ": the port is closed");
        }
    }

    static std::uint8_t purge_value(Purge which) noexcept {
        return which == Purge::input    ? cp::purge_receive
               : which == Purge::output ? cp::purge_transmit
                                        : cp::purge_both;
    }

    void purge_local(Purge which) {
        if (which != Purge::input) {
            queue().clear();
            send_from_queue(); // settles water marks, drain waiters, a pending close
        }
    }

    static std::error_code error_code_of(const std::exception_ptr& error) noexcept {
        try {
            std::rethrow_exception(error);
        } catch (const std::system_error& e) {
            return e.code();
        } catch (...) {
            return make_error_code(errc::invalid_argument);
        }
    }

    Completion settle(Future<> answered) {
        return [answered](std::exception_ptr error) mutable {
            if (answered.done()) {
                return;
            }
            if (error) {
                answered.set_exception(std::move(error));
            } else {
                answered.set_result();
            }
        };
    }

    Completion logging_completion(const char* what) {
        return [what, path = path_](std::exception_ptr error) {
            // A command cut short by closing is no news: connection_lost tells that.
            if (error && error_code_of(error) != make_error_code(errc::closed)) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    log().warn("{} on {}: {}", what, path, e.what());
                }
            }
        };
    }

    // ---- commands ----

    /// Sends the settings that differ from options() (all of them when `all`), calling `done`
    /// once every answer is in, with the first error.
    void send_settings(const SerialOptions& wanted, bool all, Completion done) {
        struct Join {
            std::size_t left = 1;
            std::exception_ptr first;
            Completion done;
        };
        auto join = std::make_shared<Join>();
        join->done = std::move(done);
        auto part = [join](std::exception_ptr error) {
            if (error && !join->first) {
                join->first = error;
            }
            if (--join->left == 0) {
                join->done(join->first);
            }
        };
        auto count = [&](bool differs) { return all || differs; };
        if (count(wanted.baud_rate != options_.baud_rate)) {
            Bytes value;
            cp::append_u32(wanted.baud_rate, value);
            ++join->left;
            send_command(cp::set_baudrate, value, part);
        }
        if (count(wanted.data_bits != options_.data_bits)) {
            ++join->left;
            send_command(cp::set_datasize, {static_cast<std::uint8_t>(wanted.data_bits)}, part);
        }
        if (count(wanted.parity != options_.parity)) {
            ++join->left;
            send_command(cp::set_parity, {cp::encode(wanted.parity)}, part);
        }
        if (count(wanted.stop_bits != options_.stop_bits)) {
            ++join->left;
            send_command(cp::set_stopsize, {cp::encode(wanted.stop_bits)}, part);
        }
        if (count(wanted.flow_control != options_.flow_control)) {
            ++join->left;
            send_control_value(cp::encode(wanted.flow_control), part);
        }
        part(nullptr); // the count started at one so that no answer could finish it early
    }

    void send_control_value(std::uint8_t value, Completion done) {
        send_command(cp::set_control, {value}, std::move(done));
    }

    void send_command(std::uint8_t code, std::initializer_list<std::uint8_t> value,
                      Completion done) {
        Bytes bytes;
        for (const std::uint8_t b : value) {
            bytes.push_back(std::byte{b});
        }
        send_command(code, std::move(bytes), std::move(done));
    }

    void send_command(std::uint8_t code, Bytes value, Completion done) {
        Bytes payload;
        payload.push_back(std::byte{code});
        payload.insert(payload.end(), value.begin(), value.end());
        Bytes out;
        telnet::append_subnegotiation(telnet::option::com_port, payload, out);
        send_control(out);
        commands_.sent(code, std::move(value), std::move(done));
    }

    /// Records what an answer (or, non-strict, the request itself) says is in effect.
    void take_as_applied(std::uint8_t code, ByteView value) {
        const std::uint8_t first = value.empty() ? 0 : std::to_integer<std::uint8_t>(value[0]);
        switch (code) {
        case cp::set_baudrate:
            if (value.size() >= 4 && cp::read_u32(value) != 0) {
                options_.baud_rate = cp::read_u32(value);
            }
            break;
        case cp::set_datasize:
            if (first >= 5 && first <= 8) {
                options_.data_bits = first;
            }
            break;
        case cp::set_parity:
            if (auto parity = cp::decode_parity(first)) {
                options_.parity = *parity;
            }
            break;
        case cp::set_stopsize:
            if (auto stop_bits = cp::decode_stop_bits(first)) {
                options_.stop_bits = *stop_bits;
            }
            break;
        case cp::set_control:
            if (auto flow = cp::decode_flow(first)) {
                options_.flow_control = *flow;
            } else if (first == cp::control::inbound_none ||
                       first == cp::control::inbound_xon_xoff ||
                       first == cp::control::inbound_hardware) {
                options_.flow_control = *cp::decode_flow(static_cast<std::uint8_t>(
                    first - (cp::control::inbound_none - cp::control::flow_none)));
            }
            break;
        default:
            break;
        }
    }

    // ---- telnet ----

    void lower_data(ByteView data) override { decoder_.feed(data, *this); }

    void encode(ByteView plain, Bytes& out) override { telnet::append_escaped(plain, out); }

    bool may_send() const noexcept override { return !suspended_ && breaks_ == 0; }

    void telnet_data(ByteView data) override {
        if (state() == State::idle && said_.size() < 200) {
            said_.append(reinterpret_cast<const char*>(data.data()),
                         std::min<std::size_t>(data.size(), 200 - said_.size()));
        }
        if (state() == State::open || state() == State::idle) {
            deliver_plain(data);
        }
    }

    std::chrono::milliseconds ask_for_receipt() noexcept override {
        // The server answers once it has read everything we sent: closing before that could
        // make our kernel reset the connection on the server's next byte (a FLOWCONTROL
        // command, device output), which discards what either kernel still holds.
        try {
            Bytes out;
            telnet::append_negotiation(Verb::do_, telnet::option::timing_mark, out);
            send_control(out);
            return config_.command_timeout;
        } catch (const std::bad_alloc&) {
            return std::chrono::milliseconds{0};
        }
    }

    void telnet_negotiation(Verb verb, std::uint8_t option) override {
        if (option == telnet::option::timing_mark) {
            // RFC 860: WILL or WONT both mean "read up to here"; it never becomes an
            // option state, so it is never answered.
            if ((verb == Verb::will_ || verb == Verb::wont) && awaiting_receipt()) {
                receipt_arrived();
            }
            return;
        }
        Bytes out;
        telnet_.receive(verb, option, out);
        send_control(out);
        if (state() != State::idle || negotiated_) {
            return;
        }
        if (telnet_.local_enabled(telnet::option::com_port)) {
            negotiated_ = true;
            agreement_timer_.cancel();
            send_initial_settings();
        } else if (telnet_.local_refused(telnet::option::com_port)) {
            fail_connect(make_error_code(errc::not_supported),
                         "the server refused COM-PORT-OPTION (not an RFC 2217 server)");
        }
    }

    void telnet_subnegotiation(std::uint8_t option, ByteView payload) override {
        if (option != telnet::option::com_port || payload.empty()) {
            return;
        }
        const auto code = std::to_integer<std::uint8_t>(payload.data()[0]);
        const ByteView value = payload.subview(1);
        switch (code) {
        case cp::flowcontrol_suspend:
        case cp::flowcontrol_suspend + cp::server_offset:
            // RFC 2217 says 108; pyserial's server sends 8. Either means: hold the data.
            suspended_ = true;
            return;
        case cp::flowcontrol_resume:
        case cp::flowcontrol_resume + cp::server_offset:
            suspended_ = false;
            sending_allowed();
            return;
        case cp::notify_modemstate + cp::server_offset:
            if (!value.empty()) {
                modem_notified(cp::decode_modem_state(std::to_integer<std::uint8_t>(value[0])));
            }
            return;
        case cp::notify_linestate + cp::server_offset:
            if (!value.empty()) {
                log().debug("{}: line state 0x{:02x}", path_, std::to_integer<int>(value[0]));
            }
            return;
        case cp::signature:
            if (value.empty()) {
                send_command_unanswered(cp::signature, ByteView("ferry"));
            }
            return;
        default:
            if (code == cp::signature + cp::server_offset) {
                signature_.assign(reinterpret_cast<const char*>(value.data()), value.size());
            }
            if (code >= cp::server_offset && code <= cp::server_offset + cp::last_command) {
                commands_.answered(static_cast<std::uint8_t>(code - cp::server_offset), value);
            } else {
                log().debug("{}: ignored COM-PORT-OPTION command {}", path_, code);
            }
        }
    }

    void send_command_unanswered(std::uint8_t code, ByteView value) {
        Bytes payload;
        payload.push_back(std::byte{code});
        payload.insert(payload.end(), value.data(), value.data() + value.size());
        Bytes out;
        telnet::append_subnegotiation(telnet::option::com_port, payload, out);
        send_control(out);
    }

    void telnet_error(std::string_view what) override {
        log().warn("{}: bad telnet input: {}", path_, what);
    }

    void modem_notified(const ModemStatus& status) {
        modem_ = status;
        modem_known_ = true;
        auto waiters = std::move(modem_waiters_);
        modem_waiters_.clear();
        for (ModemWaiter& waiter : waiters) {
            if (waiter.changed.done()) {
                continue; // cancelled
            }
            const bool changed = (waiter.watch.cts && status.cts != waiter.before.cts) ||
                                 (waiter.watch.dsr && status.dsr != waiter.before.dsr) ||
                                 (waiter.watch.ri && status.ri != waiter.before.ri) ||
                                 (waiter.watch.cd && status.cd != waiter.before.cd);
            if (changed) {
                waiter.changed.set_result(status);
            } else {
                modem_waiters_.push_back(std::move(waiter));
            }
        }
    }

    void fail_modem_waiters() noexcept {
        for (ModemWaiter& waiter : modem_waiters_) {
            if (!waiter.changed.done()) {
                waiter.changed.set_exception(std::make_exception_ptr(
                    Error(make_error_code(errc::closed),
                          "wait_modem_change on " + path_ + ": the port was closed")));
            }
        }
        modem_waiters_.clear();
    }

    // ---- opening ----

    void send_initial_settings() {
        struct Join {
            std::size_t left = 1;
            std::exception_ptr first;
        };
        auto join = std::make_shared<Join>();
        std::weak_ptr<Transport> weak = shared_from_this();
        auto part = [join, weak, this](std::exception_ptr error) {
            if (error && !join->first) {
                join->first = error;
            }
            if (--join->left == 0 && weak.lock() && state() == State::idle) {
                settings_answered(join->first);
            }
        };
        send_command_unanswered(cp::signature, ByteView()); // the answer is kept, not awaited
        const SerialOptions& wanted = config_.serial;
        ++join->left;
        send_settings(wanted, true, part);
        if (wanted.dtr != LineOnOpen::leave) {
            ++join->left;
            send_control_value(
                wanted.dtr == LineOnOpen::set ? cp::control::dtr_on : cp::control::dtr_off, part);
        }
        if (wanted.rts != LineOnOpen::leave) {
            ++join->left;
            send_control_value(
                wanted.rts == LineOnOpen::set ? cp::control::rts_on : cp::control::rts_off, part);
        }
        if (wanted.discard_input_on_open) {
            ++join->left;
            send_command(cp::purge_data, {cp::purge_receive}, part);
        }
        part(nullptr);
    }

    void settings_answered(std::exception_ptr error) {
        if (error) {
            std::string what;
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                what = e.what();
            }
            fail_connect(error_code_of(error), what, false);
            return;
        }
        std::unique_ptr<Protocol> protocol;
        try {
            protocol = detail::make_protocol(factory_);
        } catch (...) {
            auto done = std::move(connected_);
            discard();
            done(std::current_exception());
            return;
        }
        auto done = std::move(connected_);
        start(std::move(protocol));
        done(std::static_pointer_cast<Rfc2217Transport>(shared_from_this()));
    }

    void fail_connect(std::error_code code, const std::string& why, bool prefix = true) {
        if (!connected_) {
            return;
        }
        std::string message = prefix ? path_ + ": " + why : why;
        if (!said_.empty()) {
            std::string text = said_;
            std::erase_if(text, [](char c) { return c == '\r' || c == '\n'; });
            message += " (the server said: \"" + text + "\")";
        }
        auto done = std::move(connected_);
        connected_ = nullptr;
        commands_.fail_all();
        discard();
        done(std::make_exception_ptr(Error(code, message)));
    }

    void lower_lost_before_start(std::error_code error) override {
        fail_connect(error ? error : make_error_code(errc::closed),
                     error ? "the connection was lost: " + error.message()
                           : "the server closed the connection");
    }

    void queue_drained() noexcept override {
        if (drain_waiters_.empty() || state() != State::open) {
            return;
        }
        // The server answers in order: once it answers a query sent after the data, it has
        // taken every byte before it.
        auto waiters = std::make_shared<std::vector<SerialCallback>>(std::move(drain_waiters_));
        drain_waiters_.clear();
        try {
            send_control_value(cp::control::flow_query, [waiters](std::exception_ptr error) {
                for (SerialCallback& done : *waiters) {
                    done(error ? error_code_of(error) : std::error_code());
                }
            });
        } catch (const std::bad_alloc&) {
            fail(std::make_error_code(std::errc::not_enough_memory));
        }
    }

    void released() noexcept override {
        commands_.fail_all();
        fail_modem_waiters();
        auto drains = std::move(drain_waiters_);
        for (SerialCallback& done : drains) {
            done(make_error_code(errc::closed));
        }
        agreement_timer_.cancel();
    }

    Rfc2217Options config_;
    SerialOptions options_;
    detail::TelnetOptions telnet_;
    telnet::Decoder decoder_;
    std::string path_;
    detail::PendingCommands commands_; // after path_: it names the port with it
    std::string signature_;
    std::string said_; // what the server sent before the port opened, for error messages
    ProtocolFactory factory_;
    Rfc2217Callback connected_;
    CallbackHandle agreement_timer_;
    std::vector<ModemWaiter> modem_waiters_;
    std::vector<SerialCallback> drain_waiters_;
    ModemStatus modem_{};
    bool modem_known_ = false;
    bool negotiated_ = false;
    bool suspended_ = false;
    int breaks_ = 0;          // breaks in progress (timed or held): data waits
    bool break_held_ = false; // set_break(true)
};

} // namespace

void connect_rfc2217(Loop& loop, ProtocolFactory factory, std::string host, std::uint16_t port,
                     Rfc2217Options options, Rfc2217Callback done) {
    ProtocolFactory holding = [] { return std::make_unique<Holding>(); };
    ConnectOptions tcp = options.tcp;
    create_connection(
        loop, std::move(holding), host, port, tcp,
        [host, port, options = std::move(options), factory = std::move(factory),
         done = std::move(done)](Result<std::shared_ptr<Transport>> connection) mutable {
            if (!connection.ok()) {
                done(connection.error());
                return;
            }
            auto client = std::make_shared<Rfc2217Client>(std::move(connection).value(), host, port,
                                                          std::move(options));
            client->begin(client, std::move(factory), std::move(done));
        });
}

Task<std::shared_ptr<Rfc2217Transport>> connect_rfc2217(Loop& loop, ProtocolFactory factory,
                                                        std::string host, std::uint16_t port,
                                                        Rfc2217Options options) {
    Future<std::shared_ptr<Rfc2217Transport>> result(loop);
    connect_rfc2217(loop, std::move(factory), std::move(host), port, std::move(options),
                    settle(result, [](auto& transport) { transport->abort(); }));
    co_return co_await result;
}

} // namespace ferry
