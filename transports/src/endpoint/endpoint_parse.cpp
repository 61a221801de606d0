// Endpoint descriptions: parsing ("serial:/dev/ttyUSB0:115200n81:flow=rtscts"), the canonical
// form, and the help text. Portable.
#include <ferry/endpoint.hpp>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <vector>

#include <ferry/error.hpp>

namespace ferry {
namespace {

/// The kinds by name, in the order the help lists them.
struct KindName {
    EndpointKind kind;
    std::string_view name;
};
constexpr KindName kind_names[] = {
    {EndpointKind::serial, "serial"},
    {EndpointKind::tcp, "tcp"},
    {EndpointKind::tcp_listen, "tcp-listen"},
    {EndpointKind::unix_socket, "unix"},
    {EndpointKind::unix_listen, "unix-listen"},
    {EndpointKind::stdio, "stdio"},
    {EndpointKind::pty, "pty"},
    {EndpointKind::rfc2217, "rfc2217"},
    {EndpointKind::exec, "exec"},
    {EndpointKind::udp, "udp"},
    {EndpointKind::udp_listen, "udp-listen"},
    {EndpointKind::tls, "tls"},
    {EndpointKind::tls_listen, "tls-listen"},
};

std::string_view name_of(EndpointKind kind) {
    for (const KindName& entry : kind_names) {
        if (entry.kind == kind) {
            return entry.name;
        }
    }
    return "?";
}

/// Reports a bad description: which one, and what is wrong with which part.
class Complaint {
public:
    explicit Complaint(std::string_view description) : description_(description) {}
    [[noreturn]] void operator()(const std::string& problem) const {
        throw Error(make_error_code(errc::invalid_argument),
                    "bad endpoint '" + description_ + "': " + problem);
    }

private:
    std::string description_;
};

/// Splits at ':' outside square brackets (an IPv6 literal keeps its colons).
std::vector<std::string> split_fields(std::string_view text, const Complaint& complain) {
    std::vector<std::string> fields(1);
    int depth = 0;
    for (const char c : text) {
        if (c == '[') {
            ++depth;
        } else if (c == ']') {
            --depth;
        }
        if (c == ':' && depth == 0) {
            fields.emplace_back();
        } else {
            fields.back() += c;
        }
    }
    if (depth != 0) {
        complain("unbalanced '[' ']'");
    }
    return fields;
}

template <class Number>
bool to_number(std::string_view text, Number& out) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/// One `key=value` option (a bare `key` means `key=true`) and how to complain about it.
struct Option {
    std::string key;
    std::string value;
    bool bare = false;
    const Complaint* complain = nullptr;

    [[noreturn]] void refuse(const std::string& expected) const {
        (*complain)(key + "=" + value + ": expected " + expected);
    }
    bool flag() const {
        const std::string v = lower(value);
        if (bare || v == "true" || v == "on" || v == "yes" || v == "1") {
            return true;
        }
        if (v == "false" || v == "off" || v == "no" || v == "0") {
            return false;
        }
        refuse("true or false");
    }
    template <class Number>
    Number number(Number smallest, Number largest) const {
        Number n{};
        if (!to_number(value, n) || n < smallest || n > largest) {
            refuse("a number from " + std::to_string(smallest) + " to " + std::to_string(largest));
        }
        return n;
    }
    /// A duration: "250ms", "5s", or a plain number of `unit`s.
    std::chrono::milliseconds duration(std::chrono::milliseconds unit) const {
        std::string_view text = value;
        std::chrono::milliseconds scale = unit;
        if (text.ends_with("ms")) {
            text.remove_suffix(2);
            scale = std::chrono::milliseconds(1);
        } else if (text.ends_with("s")) {
            text.remove_suffix(1);
            scale = std::chrono::seconds(1);
        }
        std::uint32_t count = 0;
        if (!to_number(text, count)) {
            refuse("a duration such as 500ms or 5s");
        }
        return scale * count;
    }
    template <class Enum>
    Enum one_of(std::initializer_list<std::pair<std::string_view, Enum>> choices) const {
        const std::string v = lower(value);
        std::string names;
        for (const auto& [name, choice] : choices) {
            if (v == name) {
                return choice;
            }
            names += (names.empty() ? "" : ", ") + std::string(name);
        }
        refuse("one of " + names);
    }
};

/// The keys a kind accepts, each with what it does to the endpoint.
using KeyTable = std::map<std::string, std::function<void(const Option&, Endpoint&)>>;

const KeyTable& serial_keys() {
    static const KeyTable table = {
        {"baud", [](const Option& o,
                    Endpoint& e) { e.serial.baud_rate = o.number<std::uint32_t>(1, 100'000'000); }},
        {"data_bits", [](const Option& o, Endpoint& e) { e.serial.data_bits = o.number(5, 8); }},
        {"parity",
         [](const Option& o, Endpoint& e) {
             e.serial.parity = o.one_of<Parity>({{"none", Parity::none},
                                                 {"even", Parity::even},
                                                 {"odd", Parity::odd},
                                                 {"mark", Parity::mark},
                                                 {"space", Parity::space}});
         }},
        {"stop_bits",
         [](const Option& o, Endpoint& e) {
             e.serial.stop_bits = o.one_of<StopBits>(
                 {{"1", StopBits::one}, {"1.5", StopBits::one_and_half}, {"2", StopBits::two}});
         }},
        {"flow",
         [](const Option& o, Endpoint& e) {
             e.serial.flow_control = o.one_of<FlowControl>({{"none", FlowControl::none},
                                                            {"rtscts", FlowControl::rts_cts},
                                                            {"xonxoff", FlowControl::xon_xoff},
                                                            {"dsrdtr", FlowControl::dsr_dtr}});
         }},
        {"exclusive", [](const Option& o, Endpoint& e) { e.serial.exclusive = o.flag(); }},
        {"dtr",
         [](const Option& o, Endpoint& e) {
             e.serial.dtr = o.one_of<LineOnOpen>({{"leave", LineOnOpen::leave},
                                                  {"on", LineOnOpen::set},
                                                  {"off", LineOnOpen::clear}});
         }},
        {"rts",
         [](const Option& o, Endpoint& e) {
             e.serial.rts = o.one_of<LineOnOpen>({{"leave", LineOnOpen::leave},
                                                  {"on", LineOnOpen::set},
                                                  {"off", LineOnOpen::clear}});
         }},
        {"hupcl", [](const Option& o, Endpoint& e) { e.serial.hang_up_on_close = o.flag(); }},
        {"low_latency", [](const Option& o, Endpoint& e) { e.serial.low_latency = o.flag(); }},
        {"discard_input",
         [](const Option& o, Endpoint& e) { e.serial.discard_input_on_open = o.flag(); }},
        {"restore", [](const Option& o, Endpoint& e) { e.serial.restore_on_close = o.flag(); }},
        {"rs485",
         [](const Option& o, Endpoint& e) {
             if (o.flag()) {
                 e.serial.rs485 = e.serial.rs485.value_or(Rs485Options{});
             } else {
                 e.serial.rs485.reset();
             }
         }},
        {"rs485_rts_on_send",
         [](const Option& o, Endpoint& e) {
             e.serial.rs485 = e.serial.rs485.value_or(Rs485Options{});
             e.serial.rs485->rts_on_send = o.flag();
         }},
        {"rs485_rts_after_send",
         [](const Option& o, Endpoint& e) {
             e.serial.rs485 = e.serial.rs485.value_or(Rs485Options{});
             e.serial.rs485->rts_after_send = o.flag();
         }},
        {"rs485_delay_before",
         [](const Option& o, Endpoint& e) {
             e.serial.rs485 = e.serial.rs485.value_or(Rs485Options{});
             e.serial.rs485->delay_before_send = o.duration(std::chrono::milliseconds(1));
         }},
        {"rs485_delay_after",
         [](const Option& o, Endpoint& e) {
             e.serial.rs485 = e.serial.rs485.value_or(Rs485Options{});
             e.serial.rs485->delay_after_send = o.duration(std::chrono::milliseconds(1));
         }},
        {"rs485_receive_during_send",
         [](const Option& o, Endpoint& e) {
             e.serial.rs485 = e.serial.rs485.value_or(Rs485Options{});
             e.serial.rs485->receive_during_send = o.flag();
         }},
    };
    return table;
}

AddressFamily family_of(const Option& o) {
    return o.one_of<AddressFamily>({{"any", AddressFamily::any},
                                    {"ipv4", AddressFamily::ipv4},
                                    {"ipv6", AddressFamily::ipv6}});
}

const KeyTable& tcp_keys() {
    static const KeyTable table = {
        {"timeout", [](const Option& o,
                       Endpoint& e) { e.tcp.timeout = o.duration(std::chrono::milliseconds(1)); }},
        {"nodelay", [](const Option& o, Endpoint& e) { e.tcp.nodelay = o.flag(); }},
        {"keepalive",
         [](const Option& o, Endpoint& e) {
             e.tcp.keepalive = std::chrono::duration_cast<std::chrono::seconds>(
                 o.duration(std::chrono::seconds(1)));
         }},
        {"family", [](const Option& o, Endpoint& e) { e.tcp.family = family_of(o); }},
        {"bind", [](const Option& o, Endpoint& e) { e.tcp.local_host = o.value; }},
    };
    return table;
}

const KeyTable& tcp_listen_keys() {
    static const KeyTable table = {
        {"interface", [](const Option& o, Endpoint& e) { e.host = o.value; }},
        {"backlog",
         [](const Option& o, Endpoint& e) { e.tcp_server.backlog = o.number(1, 65535); }},
        {"reuse_address",
         [](const Option& o, Endpoint& e) { e.tcp_server.reuse_address = o.flag(); }},
        {"reuse_port", [](const Option& o, Endpoint& e) { e.tcp_server.reuse_port = o.flag(); }},
        {"nodelay", [](const Option& o, Endpoint& e) { e.tcp_server.nodelay = o.flag(); }},
        {"keepalive",
         [](const Option& o, Endpoint& e) {
             e.tcp_server.keepalive = std::chrono::duration_cast<std::chrono::seconds>(
                 o.duration(std::chrono::seconds(1)));
         }},
        {"family", [](const Option& o, Endpoint& e) { e.tcp_server.family = family_of(o); }},
        {"rfc2217", [](const Option& o, Endpoint& e) { e.rfc2217_server = o.flag(); }},
    };
    return table;
}

/// The TLS keys both ends take.
void add_tls_keys(KeyTable& keys) {
    keys["ca"] = [](const Option& o, Endpoint& e) { e.tls.ca_file = o.value; };
    keys["ca_dir"] = [](const Option& o, Endpoint& e) { e.tls.ca_dir = o.value; };
    keys["cert"] = [](const Option& o, Endpoint& e) { e.tls.cert_file = o.value; };
    keys["key"] = [](const Option& o, Endpoint& e) { e.tls.key_file = o.value; };
    keys["alpn"] = [](const Option& o, Endpoint& e) {
        e.tls.alpn.clear();
        std::string_view rest = o.value;
        while (!rest.empty()) {
            const std::size_t comma = rest.find(',');
            e.tls.alpn.emplace_back(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
        }
    };
    keys["min_version"] = [](const Option& o, Endpoint& e) {
        e.tls.min_version =
            o.one_of<TlsVersion>({{"1.2", TlsVersion::tls1_2}, {"1.3", TlsVersion::tls1_3}});
    };
    keys["handshake_timeout"] = [](const Option& o, Endpoint& e) {
        e.tls_start.handshake_timeout = o.duration(std::chrono::seconds(1));
    };
}

const KeyTable& rfc2217_keys();

/// The rfc2217: keys a tls: client with `rfc2217` takes too (the TCP ones it has already).
constexpr const char* rfc2217_settings_keys[] = {"strict", "command_timeout", "baud", "data_bits",
                                                 "parity", "stop_bits",       "flow", "dtr",
                                                 "rts",    "discard_input"};

const KeyTable& tls_keys() {
    static const KeyTable table = [] {
        KeyTable keys = tcp_keys();
        add_tls_keys(keys);
        keys["servername"] = [](const Option& o, Endpoint& e) {
            e.tls_start.server_hostname = o.value;
        };
        keys["verify"] = [](const Option& o, Endpoint& e) { e.tls.verify_peer = o.flag(); };
        keys["rfc2217"] = [](const Option& o, Endpoint& e) { e.rfc2217_client = o.flag(); };
        for (const char* key : rfc2217_settings_keys) {
            keys[key] = rfc2217_keys().at(key);
        }
        return keys;
    }();
    return table;
}

const KeyTable& tls_listen_keys() {
    static const KeyTable table = [] {
        KeyTable keys = tcp_listen_keys();
        add_tls_keys(keys);
        keys["verify"] = [](const Option& o, Endpoint& e) {
            e.tls.client_certificates =
                o.one_of<ClientCertificates>({{"none", ClientCertificates::none},
                                              {"optional", ClientCertificates::optional},
                                              {"require", ClientCertificates::require}});
        };
        return keys;
    }();
    return table;
}

/// "::1" from "[::1]"; anything else as it is.
std::string strip_brackets(const std::string& host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        return host.substr(1, host.size() - 2);
    }
    return host;
}

const KeyTable& udp_keys() {
    static const KeyTable table = {
        {"bind", [](const Option& o, Endpoint& e) { e.udp.local_host = strip_brackets(o.value); }},
        {"family", [](const Option& o, Endpoint& e) { e.udp.family = family_of(o); }},
    };
    return table;
}

const KeyTable& udp_listen_keys() {
    static const KeyTable table = {
        {"interface", [](const Option& o, Endpoint& e) { e.host = o.value; }},
        {"family", [](const Option& o, Endpoint& e) { e.udp.family = family_of(o); }},
        {"reuse_address", [](const Option& o, Endpoint& e) { e.udp.reuse_address = o.flag(); }},
        {"reuse_port", [](const Option& o, Endpoint& e) { e.udp.reuse_port = o.flag(); }},
    };
    return table;
}

const KeyTable& unix_listen_keys() {
    static const KeyTable table = {
        {"backlog",
         [](const Option& o, Endpoint& e) { e.unix_server.backlog = o.number(1, 65535); }},
        {"remove_stale",
         [](const Option& o, Endpoint& e) { e.unix_server.remove_stale_socket = o.flag(); }},
        {"rfc2217", [](const Option& o, Endpoint& e) { e.rfc2217_server = o.flag(); }},
    };
    return table;
}

const KeyTable& pty_keys() {
    static const KeyTable table = [] {
        KeyTable keys = {
            {"link", [](const Option& o, Endpoint& e) { e.pty.link = o.value; }},
        };
        // The line settings a pseudo-terminal keeps.
        for (const char* key : {"baud", "stop_bits", "flow"}) {
            keys[key] = [apply = serial_keys().at(key)](const Option& o, Endpoint& e) {
                Endpoint scratch;
                scratch.serial = e.pty.serial;
                apply(o, scratch);
                e.pty.serial = scratch.serial;
            };
        }
        return keys;
    }();
    return table;
}

const KeyTable& rfc2217_keys() {
    static const KeyTable table = [] {
        KeyTable keys = {
            {"strict", [](const Option& o, Endpoint& e) { e.rfc2217.strict = o.flag(); }},
            {"command_timeout",
             [](const Option& o, Endpoint& e) {
                 e.rfc2217.command_timeout = o.duration(std::chrono::milliseconds(1));
             }},
        };
        // The line settings the client sends, and the TCP connection's options.
        for (const char* key :
             {"baud", "data_bits", "parity", "stop_bits", "flow", "dtr", "rts", "discard_input"}) {
            keys[key] = [apply = serial_keys().at(key)](const Option& o, Endpoint& e) {
                Endpoint scratch;
                scratch.serial = e.rfc2217.serial;
                apply(o, scratch);
                e.rfc2217.serial = scratch.serial;
            };
        }
        for (const char* key : {"timeout", "keepalive", "family", "bind"}) {
            keys[key] = [apply = tcp_keys().at(key)](const Option& o, Endpoint& e) {
                Endpoint scratch;
                scratch.tcp = e.rfc2217.tcp;
                apply(o, scratch);
                e.rfc2217.tcp = scratch.tcp;
            };
        }
        return keys;
    }();
    return table;
}

/// True when nothing an rfc2217 client sends was set.
bool is_default(const Rfc2217Options& r) {
    const Rfc2217Options d;
    const SerialOptions& s = r.serial;
    return s.baud_rate == d.serial.baud_rate && s.data_bits == d.serial.data_bits &&
           s.parity == d.serial.parity && s.stop_bits == d.serial.stop_bits &&
           s.flow_control == d.serial.flow_control && s.dtr == d.serial.dtr &&
           s.rts == d.serial.rts && s.discard_input_on_open == d.serial.discard_input_on_open &&
           r.strict == d.strict && r.command_timeout == d.command_timeout;
}

const KeyTable& no_keys() {
    static const KeyTable table;
    return table;
}

const KeyTable& keys_of(EndpointKind kind) {
    switch (kind) {
    case EndpointKind::serial:
        return serial_keys();
    case EndpointKind::tcp:
        return tcp_keys();
    case EndpointKind::tcp_listen:
        return tcp_listen_keys();
    case EndpointKind::unix_listen:
        return unix_listen_keys();
    case EndpointKind::pty:
        return pty_keys();
    case EndpointKind::rfc2217:
        return rfc2217_keys();
    case EndpointKind::udp:
        return udp_keys();
    case EndpointKind::udp_listen:
        return udp_listen_keys();
    case EndpointKind::tls:
        return tls_keys();
    case EndpointKind::tls_listen:
        return tls_listen_keys();
    case EndpointKind::unix_socket:
    case EndpointKind::stdio:
    case EndpointKind::exec:
        break;
    }
    return no_keys();
}

std::string key_list(EndpointKind kind) {
    const KeyTable& keys = keys_of(kind);
    if (keys.empty()) {
        return std::string(name_of(kind)) + " takes no options";
    }
    std::string list;
    for (const auto& [key, apply] : keys) {
        list += (list.empty() ? "" : ", ") + key;
    }
    return std::string(name_of(kind)) + " keys: " + list;
}

void apply_option(std::string_view field, EndpointKind kind, Endpoint& endpoint,
                  const Complaint& complain) {
    Option option;
    option.complain = &complain;
    const std::size_t equals = field.find('=');
    option.key = lower(field.substr(0, equals));
    if (equals == std::string_view::npos) {
        option.bare = true;
    } else {
        option.value = std::string(field.substr(equals + 1));
        // A value holding ':' (a Windows path: cert=[C:\certs\s.pem]) comes in brackets.
        if (option.value.size() >= 2 && option.value.front() == '[' && option.value.back() == ']') {
            option.value = option.value.substr(1, option.value.size() - 2);
        }
    }
    const KeyTable& keys = keys_of(kind);
    const auto found = keys.find(option.key);
    if (option.key.empty() || found == keys.end()) {
        complain("unknown option '" + std::string(field) + "' (" + key_list(kind) + ")");
    }
    found->second(option, endpoint);
}

/// ser2net's shorthand: "115200n81" (rate, parity letter, data bits, stop bits), or a bare
/// rate. False when `field` is not one.
bool apply_line_shorthand(std::string_view field, SerialOptions& serial) {
    std::size_t digits = 0;
    while (digits < field.size() && std::isdigit(static_cast<unsigned char>(field[digits]))) {
        ++digits;
    }
    std::uint32_t baud = 0;
    if (digits == 0 || !to_number(field.substr(0, digits), baud) || baud == 0) {
        return false;
    }
    const std::string rest = lower(field.substr(digits));
    if (rest.empty()) {
        serial.baud_rate = baud;
        return true;
    }
    if (rest.size() != 3 || rest[1] < '5' || rest[1] > '8' || (rest[2] != '1' && rest[2] != '2')) {
        return false;
    }
    Parity parity{};
    switch (rest[0]) {
    case 'n':
        parity = Parity::none;
        break;
    case 'e':
        parity = Parity::even;
        break;
    case 'o':
        parity = Parity::odd;
        break;
    case 'm':
        parity = Parity::mark;
        break;
    case 's':
        parity = Parity::space;
        break;
    default:
        return false;
    }
    serial.baud_rate = baud;
    serial.parity = parity;
    serial.data_bits = rest[1] - '0';
    serial.stop_bits = rest[2] == '2' ? StopBits::two : StopBits::one;
    return true;
}

std::uint16_t parse_port(std::string_view text, bool zero_allowed, const Complaint& complain) {
    std::uint32_t port = 0;
    if (!to_number(text, port) || port > 65535 || (port == 0 && !zero_allowed)) {
        complain("port '" + std::string(text) + "' is not a number from " +
                 (zero_allowed ? "0" : "1") + " to 65535");
    }
    return static_cast<std::uint16_t>(port);
}

std::string kinds_list() {
    std::string list;
    for (const KindName& entry : kind_names) {
        list += (list.empty() ? "" : ", ") + std::string(entry.name);
    }
    return list;
}

} // namespace

bool Endpoint::listens() const noexcept {
    return kind == EndpointKind::tcp_listen || kind == EndpointKind::unix_listen ||
           kind == EndpointKind::tls_listen;
}

Endpoint parse_endpoint(std::string_view description) {
    const Complaint complain(description);
    // exec: the rest is a command line, colons and all, not fields.
    if (lower(description.substr(0, 5)) == "exec:" || lower(description) == "exec") {
        Endpoint endpoint;
        endpoint.kind = EndpointKind::exec;
        endpoint.command =
            std::string(description.substr(std::min<std::size_t>(5, description.size())));
        if (endpoint.command.find_first_not_of(" \t") == std::string::npos) {
            complain("exec needs COMMAND (exec:COMMAND)");
        }
        return endpoint;
    }
    std::vector<std::string> fields = split_fields(description, complain);
    const std::string kind_name = lower(fields.front());
    const auto found = std::find_if(std::begin(kind_names), std::end(kind_names),
                                    [&](const KindName& entry) { return entry.name == kind_name; });
    if (found == std::end(kind_names)) {
        complain("unknown kind '" + fields.front() + "' (kinds: " + kinds_list() + ")");
    }
    Endpoint endpoint;
    endpoint.kind = found->kind;
    // The positional fields each kind starts with; the rest are key=value options.
    std::size_t next = 1;
    const auto positional = [&](const char* what) -> std::string {
        if (next >= fields.size() || fields[next].empty()) {
            complain(std::string(found->name) + " needs " + what + " (" + std::string(found->name) +
                     ":" + what + ")");
        }
        return fields[next++];
    };
    switch (endpoint.kind) {
    case EndpointKind::serial:
        endpoint.path = positional("PATH");
        if (next < fields.size() && apply_line_shorthand(fields[next], endpoint.serial)) {
            ++next;
        }
        break;
    case EndpointKind::tcp:
    case EndpointKind::udp:
    case EndpointKind::tls:
        endpoint.host = strip_brackets(positional("HOST:PORT"));
        endpoint.port = parse_port(positional("HOST:PORT"), false, complain);
        break;
    case EndpointKind::rfc2217:
        endpoint.host = strip_brackets(positional("HOST:PORT"));
        endpoint.port = parse_port(positional("HOST:PORT"), false, complain);
        if (next < fields.size() && apply_line_shorthand(fields[next], endpoint.rfc2217.serial)) {
            ++next;
        }
        break;
    case EndpointKind::tcp_listen:
    case EndpointKind::udp_listen:
    case EndpointKind::tls_listen:
        endpoint.host = "127.0.0.1"; // never every interface unless asked
        endpoint.port = parse_port(positional("PORT"), true, complain);
        break;
    case EndpointKind::unix_socket:
    case EndpointKind::unix_listen:
        endpoint.path = positional("PATH");
        break;
    case EndpointKind::stdio:
    case EndpointKind::pty:
    case EndpointKind::exec: // parsed above
        break;
    }
    for (; next < fields.size(); ++next) {
        apply_option(fields[next], endpoint.kind, endpoint, complain);
    }
    if (endpoint.kind == EndpointKind::tcp_listen || endpoint.kind == EndpointKind::udp_listen ||
        endpoint.kind == EndpointKind::tls_listen) {
        endpoint.host = strip_brackets(endpoint.host);
    }
    if (endpoint.kind == EndpointKind::tls_listen && endpoint.tls.cert_file.empty()) {
        complain("tls-listen needs its certificate (cert=FILE, and key=FILE unless the key is "
                 "in it)");
    }
    if (endpoint.kind == EndpointKind::tls && !endpoint.rfc2217_client &&
        !is_default(endpoint.rfc2217)) {
        complain("baud=, strict= and the other line settings need rfc2217 (a remote serial port "
                 "over TLS)");
    }
    if (endpoint.tls.client_certificates != ClientCertificates::none &&
        endpoint.tls.ca_file.empty() && endpoint.tls.ca_dir.empty()) {
        complain("verify=require and verify=optional need the clients' CA (ca=FILE)");
    }
    try {
        if (endpoint.kind == EndpointKind::serial) {
            validate(endpoint.serial);
        } else if (endpoint.kind == EndpointKind::pty) {
            validate(endpoint.pty.serial);
        } else if (endpoint.kind == EndpointKind::rfc2217 || endpoint.rfc2217_client) {
            validate(endpoint.rfc2217.serial);
        }
    } catch (const Error& e) {
        complain(e.what());
    }
    return endpoint;
}

std::string to_string(const Endpoint& e) {
    const auto bracketed = [](const std::string& host) {
        return host.find(':') != std::string::npos ? "[" + host + "]" : host;
    };
    std::string out(name_of(e.kind));
    const auto add = [&out](const std::string& field) { out += ":" + field; };
    const auto add_line_settings = [&](const SerialOptions& s, bool all) {
        static constexpr char parity_letters[] = {'n', 'e', 'o', 'm', 's'};
        if (all) {
            add(std::to_string(s.baud_rate) + parity_letters[static_cast<int>(s.parity)] +
                std::to_string(s.data_bits) + (s.stop_bits == StopBits::two ? "2" : "1"));
            if (s.stop_bits == StopBits::one_and_half) {
                add("stop_bits=1.5");
            }
        } else {
            add("baud=" + std::to_string(s.baud_rate));
            if (s.stop_bits == StopBits::two) {
                add("stop_bits=2");
            }
        }
        static constexpr const char* flows[] = {"none", "rtscts", "xonxoff", "dsrdtr"};
        if (s.flow_control != FlowControl::none) {
            add(std::string("flow=") + flows[static_cast<int>(s.flow_control)]);
        }
    };
    static constexpr const char* lines[] = {"leave", "on", "off"};
    const auto add_rfc2217_settings = [&](const Rfc2217Options& r, bool shorthand) {
        const SerialOptions& s = r.serial;
        add_line_settings(s, shorthand);
        if (s.dtr != LineOnOpen::leave) {
            add(std::string("dtr=") + lines[static_cast<int>(s.dtr)]);
        }
        if (s.rts != LineOnOpen::leave) {
            add(std::string("rts=") + lines[static_cast<int>(s.rts)]);
        }
        if (s.discard_input_on_open) {
            add("discard_input");
        }
        if (!r.strict) {
            add("strict=false");
        }
        if (r.command_timeout != Rfc2217Options{}.command_timeout) {
            add("command_timeout=" + std::to_string(r.command_timeout.count()) + "ms");
        }
    };
    const auto add_tls_options = [&](const Endpoint& with) {
        const TlsOptions& t = with.tls;
        for (const auto& [key, value] : {std::pair{"cert", &t.cert_file},
                                         {"key", &t.key_file},
                                         {"ca", &t.ca_file},
                                         {"ca_dir", &t.ca_dir}}) {
            if (!value->empty()) {
                add(std::string(key) + "=" + bracketed(*value));
            }
        }
        if (!t.alpn.empty()) {
            std::string list;
            for (const std::string& name : t.alpn) {
                list += (list.empty() ? "" : ",") + name;
            }
            add("alpn=" + list);
        }
        if (t.min_version == TlsVersion::tls1_3) {
            add("min_version=1.3");
        }
        if (with.tls_start.handshake_timeout != TlsStartOptions{}.handshake_timeout) {
            add("handshake_timeout=" + std::to_string(with.tls_start.handshake_timeout.count()) +
                "ms");
        }
    };
    const auto add_tcp_options = [&](const ConnectOptions& tcp) {
        if (tcp.timeout.count() != 0) {
            add("timeout=" + std::to_string(tcp.timeout.count()) + "ms");
        }
        if (!tcp.nodelay) {
            add("nodelay=false");
        }
        if (tcp.keepalive) {
            add("keepalive=" + std::to_string(tcp.keepalive->count()) + "s");
        }
        if (tcp.family != AddressFamily::any) {
            add(tcp.family == AddressFamily::ipv4 ? "family=ipv4" : "family=ipv6");
        }
        if (tcp.local_host) {
            add("bind=" + *tcp.local_host);
        }
    };
    switch (e.kind) {
    case EndpointKind::serial: {
        add(e.path);
        add_line_settings(e.serial, true);
        if (!e.serial.exclusive) {
            add("exclusive=false");
        }
        if (e.serial.dtr != LineOnOpen::leave) {
            add(std::string("dtr=") + lines[static_cast<int>(e.serial.dtr)]);
        }
        if (e.serial.rts != LineOnOpen::leave) {
            add(std::string("rts=") + lines[static_cast<int>(e.serial.rts)]);
        }
        if (e.serial.hang_up_on_close) {
            add("hupcl");
        }
        if (e.serial.low_latency) {
            add("low_latency");
        }
        if (e.serial.discard_input_on_open) {
            add("discard_input");
        }
        if (e.serial.restore_on_close) {
            add("restore");
        }
        if (const auto& rs485 = e.serial.rs485) {
            add("rs485");
            add(std::string("rs485_rts_on_send=") + (rs485->rts_on_send ? "true" : "false"));
            add(std::string("rs485_rts_after_send=") + (rs485->rts_after_send ? "true" : "false"));
            add("rs485_delay_before=" + std::to_string(rs485->delay_before_send.count()) + "ms");
            add("rs485_delay_after=" + std::to_string(rs485->delay_after_send.count()) + "ms");
            add(std::string("rs485_receive_during_send=") +
                (rs485->receive_during_send ? "true" : "false"));
        }
        break;
    }
    case EndpointKind::tcp:
        add(bracketed(e.host));
        add(std::to_string(e.port));
        add_tcp_options(e.tcp);
        break;
    case EndpointKind::tls:
        add(bracketed(e.host));
        add(std::to_string(e.port));
        add_tcp_options(e.tcp);
        add_tls_options(e);
        if (!e.tls.verify_peer) {
            add("verify=false");
        }
        if (!e.tls_start.server_hostname.empty()) {
            add("servername=" + e.tls_start.server_hostname);
        }
        if (e.rfc2217_client) {
            add("rfc2217");
            add_rfc2217_settings(e.rfc2217, false);
        }
        break;
    case EndpointKind::rfc2217:
        add(bracketed(e.host));
        add(std::to_string(e.port));
        add_rfc2217_settings(e.rfc2217, true);
        add_tcp_options(e.rfc2217.tcp);
        break;
    case EndpointKind::tcp_listen:
    case EndpointKind::tls_listen:
        add(std::to_string(e.port));
        add("interface=" + bracketed(e.host));
        if (e.kind == EndpointKind::tls_listen) {
            add_tls_options(e);
            static constexpr const char* verify[] = {"none", "optional", "require"};
            if (e.tls.client_certificates != ClientCertificates::none) {
                add(std::string("verify=") + verify[static_cast<int>(e.tls.client_certificates)]);
            }
        }
        if (e.tcp_server.backlog != ServerOptions{}.backlog) {
            add("backlog=" + std::to_string(e.tcp_server.backlog));
        }
        if (!e.tcp_server.reuse_address) {
            add("reuse_address=false");
        }
        if (e.tcp_server.reuse_port) {
            add("reuse_port");
        }
        if (!e.tcp_server.nodelay) {
            add("nodelay=false");
        }
        if (e.tcp_server.keepalive) {
            add("keepalive=" + std::to_string(e.tcp_server.keepalive->count()) + "s");
        }
        if (e.tcp_server.family != AddressFamily::any) {
            add(e.tcp_server.family == AddressFamily::ipv4 ? "family=ipv4" : "family=ipv6");
        }
        if (e.rfc2217_server) {
            add("rfc2217");
        }
        break;
    case EndpointKind::unix_socket:
        add(e.path);
        break;
    case EndpointKind::unix_listen:
        add(e.path);
        if (e.unix_server.backlog != UnixServerOptions{}.backlog) {
            add("backlog=" + std::to_string(e.unix_server.backlog));
        }
        if (!e.unix_server.remove_stale_socket) {
            add("remove_stale=false");
        }
        if (e.rfc2217_server) {
            add("rfc2217");
        }
        break;
    case EndpointKind::stdio:
        break;
    case EndpointKind::exec:
        add(e.command);
        break;
    case EndpointKind::udp:
    case EndpointKind::udp_listen:
        if (e.kind == EndpointKind::udp) {
            add(bracketed(e.host));
            add(std::to_string(e.port));
        } else {
            add(std::to_string(e.port));
            add("interface=" + bracketed(e.host));
        }
        if (e.udp.family != AddressFamily::any) {
            add(e.udp.family == AddressFamily::ipv4 ? "family=ipv4" : "family=ipv6");
        }
        if (!e.udp.local_host.empty()) {
            add("bind=" + bracketed(e.udp.local_host));
        }
        if (e.udp.reuse_address) {
            add("reuse_address");
        }
        if (e.udp.reuse_port) {
            add("reuse_port");
        }
        break;
    case EndpointKind::pty:
        if (!e.pty.link.empty()) {
            add("link=" + e.pty.link);
        }
        if (e.pty.serial.baud_rate != SerialOptions{}.baud_rate ||
            e.pty.serial.stop_bits != StopBits::one ||
            e.pty.serial.flow_control != FlowControl::none) {
            add_line_settings(e.pty.serial, false);
        }
        break;
    }
    return out;
}

std::string endpoint_help() {
    return "Endpoints (KIND:FIELDS[:key=value...]):\n"
           "  serial:PATH[:115200n81]   a serial port; " +
           key_list(EndpointKind::serial) +
           "\n"
           "  tcp:HOST:PORT             connect over TCP ([::1] for IPv6); " +
           key_list(EndpointKind::tcp) +
           "\n"
           "  rfc2217:HOST:PORT[:115200n81]  a remote serial port over RFC 2217; " +
           key_list(EndpointKind::rfc2217) +
           "\n"
           "  tcp-listen:PORT           accept TCP clients on 127.0.0.1 unless interface= "
           "names another (rfc2217: serve RFC 2217 to them); " +
           key_list(EndpointKind::tcp_listen) +
           "\n"
           "  tls:HOST:PORT             connect over TLS, the server checked against ca= (else the "
           "system's CAs) and HOST (or servername=); cert= and key= give a client certificate; "
           "rfc2217: a remote serial port over TLS (with the rfc2217: line keys); " +
           key_list(EndpointKind::tls) +
           "\n"
           "  tls-listen:PORT:cert=FILE:key=FILE  a TLS server on 127.0.0.1 unless interface= "
           "names another (verify=require:ca=FILE: only clients with a certificate ca= signed; "
           "rfc2217: serve RFC 2217 over TLS); " +
           key_list(EndpointKind::tls_listen) +
           "\n"
           "  unix:PATH                 connect to a Unix socket\n"
           "  unix-listen:PATH          accept clients on a Unix socket; " +
           key_list(EndpointKind::unix_listen) +
           "\n"
           "  udp:HOST:PORT             a connected UDP socket: one datagram per read from the "
           "other side, one delivery per datagram; " +
           key_list(EndpointKind::udp) +
           "\n"
           "  udp-listen:PORT           waits for a datagram on 127.0.0.1 unless interface= names "
           "another, then talks to its sender as udp: does; " +
           key_list(EndpointKind::udp_listen) +
           "\n"
           "  stdio                     standard input and output\n"
           "  exec:COMMAND              a command run through the shell: its stdin and stdout "
           "(its stderr is this program's; closing ends its stdin, then SIGTERM after 2 s)\n"
           "  pty                       a new pseudo-terminal (a virtual serial port; its name "
           "is logged); " +
           key_list(EndpointKind::pty) +
           "\n"
           "  A value holding ':' goes in brackets: cert=[C:\\certs\\s.pem]\n";
}

} // namespace ferry
