// The contract suite's platform-neutral part.
#include "contract_endpoint.hpp"

#include "test_support.hpp"

namespace ferry::test {

Endpoint::~Endpoint() = default;

void Endpoint::close_peer() {
    peer_.close();
}

std::shared_ptr<Transport> await_transport(Loop& loop,
                                           const std::function<void(TransportCallback)>& start) {
    auto result = wait_result<std::shared_ptr<Transport>>(loop, start);
    EXPECT_TRUE(result.ok()) << result.message();
    return result.ok() ? result.value() : nullptr;
}

} // namespace ferry::test
