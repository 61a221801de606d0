// DatagramEndpoint: a DatagramProtocol that queues what arrives for recvfrom(), and the
// handles tasks hold. The protocol points at the shared state weakly, so the last handle
// going closes the transport (no cycle through the transport's protocol).
#include <ferry/datagram_endpoint.hpp>

#include <deque>
#include <exception>
#include <utility>
#include <variant>

#include <ferry/future.hpp>
#include <ferry/queue.hpp>

namespace ferry {

/// One queued arrival: a datagram, or an error the OS reported.
using Arrival = std::variant<Datagram, std::exception_ptr>;

struct DatagramEndpoint::State {
    explicit State(Loop& loop, std::size_t limit) : arrivals(limit), closed(loop) {}
    ~State() {
        if (transport) {
            transport->close();
        }
    }
    /// Space freed: reading goes on if it had stopped for a full queue.
    void taken() {
        if (transport && !transport->is_closing() && !transport->is_reading() && !lost) {
            transport->resume_reading();
        }
    }

    std::shared_ptr<DatagramTransport> transport;
    Queue<Arrival> arrivals;
    std::deque<Future<void>> drain_waiters;
    Future<void> closed; // set when connection_lost came
    bool lost = false;
    std::error_code loss;
};

namespace {

class EndpointProtocol final : public DatagramProtocol {
public:
    explicit EndpointProtocol(std::weak_ptr<DatagramEndpoint::State> state)
        : state_(std::move(state)) {}

    void datagram_received(ByteView data, const SocketAddress& from) override {
        arrive(Datagram{data.to_bytes(), from});
    }
    void error_received(const Error& error) override { arrive(std::make_exception_ptr(error)); }
    void resume_writing() override {
        if (auto state = state_.lock()) {
            wake(*state);
        }
    }
    void connection_lost(std::error_code error) override {
        auto state = state_.lock();
        if (!state) {
            return;
        }
        state->lost = true;
        state->loss = error;
        // A task waiting in recvfrom has an empty queue: an empty error wakes it.
        if (state->arrivals.empty()) {
            state->arrivals.put_nowait(std::exception_ptr());
        }
        wake(*state);
        state->closed.set_result();
    }

private:
    void arrive(Arrival arrival) {
        auto state = state_.lock();
        if (!state) {
            return;
        }
        state->arrivals.put_nowait(std::move(arrival)); // never full here: reading stops first
        if (state->arrivals.full() && state->transport) {
            state->transport->pause_reading();
        }
    }
    static void wake(DatagramEndpoint::State& state) {
        for (Future<void>& waiter : std::exchange(state.drain_waiters, {})) {
            if (!waiter.done()) {
                waiter.set_result();
            }
        }
    }

    std::weak_ptr<DatagramEndpoint::State> state_;
};

/// The error recvfrom throws once the endpoint is closed and empty.
Error closed_error(const DatagramEndpoint::State& state) {
    return Error(state.loss ? state.loss : make_error_code(errc::closed),
                 state.loss ? "UDP endpoint lost: " + state.loss.message()
                            : std::string("UDP endpoint closed"));
}

} // namespace

Task<DatagramEndpoint> DatagramEndpoint::open(Loop& loop, DatagramOptions options,
                                              std::size_t queue_limit) {
    auto state = std::make_shared<State>(loop, queue_limit == 0 ? 1 : queue_limit);
    std::weak_ptr<State> weak = state;
    auto opening = create_datagram_endpoint(
        loop, [weak] { return std::make_unique<EndpointProtocol>(weak); }, std::move(options));
    state->transport = co_await std::move(opening);
    co_return DatagramEndpoint(std::move(state));
}

Task<Datagram> DatagramEndpoint::recvfrom() {
    std::shared_ptr<State> state = state_; // the task keeps it while it waits
    if (state->lost && state->arrivals.empty()) {
        throw closed_error(*state);
    }
    Arrival arrival = co_await state->arrivals.get();
    state->taken();
    if (auto* datagram = std::get_if<Datagram>(&arrival)) {
        co_return std::move(*datagram);
    }
    if (auto error = std::get<std::exception_ptr>(arrival)) {
        std::rethrow_exception(error);
    }
    throw closed_error(*state); // the wake-up connection_lost left
}

void DatagramEndpoint::sendto(ByteView data, const std::optional<SocketAddress>& to) {
    state_->transport->sendto(data, to);
}

Task<void> DatagramEndpoint::drain() {
    std::shared_ptr<State> state = state_;
    const auto& transport = *state->transport;
    if (transport.write_buffer_size() <= transport.write_buffer_limits().high) {
        co_return;
    }
    if (state->lost) {
        throw closed_error(*state);
    }
    Future<void> drained(transport.loop());
    state->drain_waiters.push_back(drained);
    co_await drained;
    if (state->lost && transport.write_buffer_size() != 0) {
        throw closed_error(*state);
    }
}

void DatagramEndpoint::close() noexcept {
    state_->transport->close();
}

Task<void> DatagramEndpoint::wait_closed() {
    Future<void> closed = state_->closed;
    co_await closed;
}

std::optional<SocketAddress> DatagramEndpoint::sockname() const {
    return state_->transport->sockname();
}

std::optional<SocketAddress> DatagramEndpoint::peername() const {
    return state_->transport->peername();
}

DatagramTransport& DatagramEndpoint::transport() const {
    return *state_->transport;
}

} // namespace ferry
