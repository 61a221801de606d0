// ferry-bridge's services: which kind a pair of endpoints makes (Service::start), and the
// escapes of banners and open/close strings.
#include "service.hpp"

#include <cctype>
#include <stdexcept>

#include "direct_service.hpp"
#include "hub_service.hpp"

namespace bridge_tool {

std::string unescape(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\' || i + 1 == text.size()) {
            out += text[i];
            continue;
        }
        const char code = text[++i];
        switch (code) {
        case 'r':
            out += '\r';
            break;
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case '\\':
            out += '\\';
            break;
        case 'x': {
            if (i + 2 >= text.size() + 0 ||
                !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
                throw std::invalid_argument("bad escape in \"" + text +
                                            "\": \\x needs two hex digits");
            }
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
            break;
        }
        default:
            throw std::invalid_argument("bad escape \\" + std::string(1, code) + " in \"" + text +
                                        "\" (escapes: \\r \\n \\t \\\\ \\xHH)");
        }
    }
    return out;
}

std::string expand_banner(const std::string& banner, const std::string& device,
                          const std::string& listener, const std::string& settings,
                          const std::string& client) {
    std::string with_fields;
    for (std::size_t i = 0; i < banner.size(); ++i) {
        if (banner[i] == '\\' && i + 1 < banner.size()) {
            const char code = banner[i + 1];
            const std::string* field = code == 'd'   ? &device
                                       : code == 'p' ? &listener
                                       : code == 's' ? &settings
                                       : code == 'a' ? &client
                                                     : nullptr;
            if (field != nullptr) {
                with_fields += *field;
                ++i;
                continue;
            }
            with_fields += banner[i];
            with_fields += banner[++i]; // left for unescape
            continue;
        }
        with_fields += banner[i];
    }
    return unescape(with_fields);
}

ferry::Task<std::shared_ptr<Service>> Service::start(ferry::Loop& loop, ServiceOptions options) {
    ferry::Endpoint a = ferry::parse_endpoint(options.a_text);
    ferry::Endpoint b = ferry::parse_endpoint(options.b_text);
    const auto refuse = [](const std::string& why) {
        throw ferry::Error(ferry::make_error_code(ferry::errc::invalid_argument), why);
    };
    if (a.listens() && b.listens()) {
        refuse("both " + options.a_text + " and " + options.b_text +
               " listen: one side must be a device or a connection");
    }
    if (!a.listens() && !b.listens()) {
        if (options.mode != ClientMode::exclusive || !options.banner.empty() ||
            options.max_connections != 0 || options.idle_timeout.count() != 0 ||
            !options.allow.empty() || options.keep_open) {
            refuse("--mode, --max-connections, --idle-timeout, --banner, --allow and --keep-open "
                   "need a listening side (tcp-listen: or unix-listen:)");
        }
        if (options.read_only) {
            refuse("--read-only needs a listening side: it discards what clients send");
        }
        co_return detail::start_direct_service(loop, std::move(options), std::move(a),
                                               std::move(b));
    }
    const bool a_listens = a.listens();
    std::string device_text = a_listens ? options.b_text : options.a_text;
    std::string listener_text = a_listens ? options.a_text : options.b_text;
    co_return co_await detail::start_hub_service(
        loop, std::move(options), a_listens ? std::move(b) : std::move(a), std::move(device_text),
        a_listens ? std::move(a) : std::move(b), std::move(listener_text));
}

} // namespace bridge_tool
