// uv_getaddrinfo wrapped as a callback that yields SocketAddress values.
#include "stream/resolve.hpp"
#include <ferry/detail/loop_access.hpp>

#include <algorithm>
#include <memory>

#include <uv.h>

namespace ferry::detail {
namespace {

int to_ai_family(AddressFamily family) {
    switch (family) {
    case AddressFamily::ipv4:
        return AF_INET;
    case AddressFamily::ipv6:
        return AF_INET6;
    case AddressFamily::any:
        break;
    }
    return AF_UNSPEC;
}

bool family_matches(const SocketAddress& address, AddressFamily family) {
    switch (family) {
    case AddressFamily::ipv4:
        return address.family() == SocketAddress::Family::ipv4;
    case AddressFamily::ipv6:
        return address.family() == SocketAddress::Family::ipv6;
    case AddressFamily::any:
        break;
    }
    return true;
}

struct ResolveRequest {
    uv_getaddrinfo_t req{};
    std::string what;
    ResolveCallback done;
};

} // namespace

std::string host_port(const std::string& host, std::uint16_t port) {
    if (host.find(':') != std::string::npos) {
        return "[" + host + "]:" + std::to_string(port);
    }
    return (host.empty() ? std::string("*") : host) + ":" + std::to_string(port);
}

void resolve(Loop& loop, const std::string& host, std::uint16_t port, AddressFamily family,
             bool passive, ResolveCallback done) {
    if (auto numeric = SocketAddress::from_numeric(host, port)) {
        if (!family_matches(*numeric, family)) {
            loop.call_soon([done = std::move(done), what = host_port(host, port)] {
                done(Result<std::vector<SocketAddress>>::failure(
                    uv_error(UV_EAI_FAMILY), "cannot use " + what + ": wrong address family"));
            });
            return;
        }
        loop.call_soon([done = std::move(done), address = *numeric] {
            done(std::vector<SocketAddress>{address});
        });
        return;
    }
    auto request = std::make_unique<ResolveRequest>();
    request->what = host_port(host, port);
    request->done = std::move(done);
    request->req.data = request.get();
    addrinfo hints{};
    hints.ai_family = to_ai_family(family);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
    const std::string service = std::to_string(port);
    const int rc = uv_getaddrinfo(
        detail::LoopAccess::native(loop), &request->req,
        [](uv_getaddrinfo_t* req, int status, addrinfo* result) {
            std::unique_ptr<ResolveRequest> request(static_cast<ResolveRequest*>(req->data));
            if (status != 0) {
                request->done(Result<std::vector<SocketAddress>>::failure(
                    uv_error(status),
                    "cannot resolve " + request->what + ": " + uv_strerror(status)));
                return;
            }
            std::vector<SocketAddress> addresses;
            for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
                SocketAddress address(ai->ai_addr, ai->ai_addrlen);
                if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
                    addresses.push_back(address);
                }
            }
            uv_freeaddrinfo(result);
            request->done(std::move(addresses));
        },
        host.empty() ? nullptr : host.c_str(), service.c_str(), &hints);
    if (rc != 0) {
        auto failed = std::move(request->done);
        loop.call_soon([failed = std::move(failed), rc, what = request->what] {
            failed(Result<std::vector<SocketAddress>>::failure(
                uv_error(rc), "cannot resolve " + what + ": " + uv_strerror(rc)));
        });
        return;
    }
    request.release(); // owned by the request until its callback
}

} // namespace ferry::detail
