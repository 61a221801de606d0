#pragma once
// Name resolution through uv_getaddrinfo, delivered on the loop thread.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ferry/address.hpp>
#include <ferry/loop.hpp>
#include <ferry/result.hpp>
#include <ferry/tcp.hpp>

namespace ferry::detail {

/// Receives the resolved addresses (in the resolver's order, duplicates removed) or an error
/// naming host:port.
using ResolveCallback = std::function<void(Result<std::vector<SocketAddress>>)>;

/// Resolves host:port for TCP. Numeric hosts are answered without a thread-pool trip, but
/// still on a later iteration. `passive` asks for bindable addresses ("" = every interface).
void resolve(Loop& loop, const std::string& host, std::uint16_t port, AddressFamily family,
             bool passive, ResolveCallback done);

/// "host:port", with brackets around IPv6 literals.
std::string host_port(const std::string& host, std::uint16_t port);

} // namespace ferry::detail
