// LayeredTransport: the transport core's backend when the "OS" is another transport.
#include "core/layered_transport.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <functional>
#include <utility>

#include <ferry/log.hpp>
#include <ferry/rfc2217.hpp>
#include <ferry/serial.hpp>
#include <ferry/tls.hpp>

namespace ferry::detail {
namespace {
/// What the layer keeps of plain bytes its protocol has not taken, before the lower transport
/// is paused even though the layer itself still wants to read (a negotiation in progress).
constexpr std::size_t max_pending = 256 * 1024;
/// How much plain data is encoded and handed down at a time: the lower transport's fullness
/// is looked at between slices.
constexpr std::size_t write_slice = 64 * 1024;
/// The most encoding scratch a layer keeps between writes.
constexpr std::size_t max_kept_scratch = 16 * 1024;
} // namespace

Transport& topmost_layer(Transport& transport) noexcept {
    Transport* top = &transport;
    while (auto* below = dynamic_cast<LayerBelow*>(&top->protocol())) {
        Transport* above = below->layer_above();
        if (above == nullptr) {
            break;
        }
        top = above;
    }
    return *top;
}

/// The lower transport's protocol: forwards its events to the layer.
template <class Interface>
class LayeredTransport<Interface>::Receiver final : public Protocol, public LayerBelow {
public:
    explicit Receiver(LayeredTransport* layer) : layer_(layer) {}
    void detach() noexcept { layer_ = nullptr; }
    Transport* layer_above() noexcept override {
        // Only a started layer: one still negotiating (a TLS handshake) has no user yet, and
        // closing the lower transport is how it is refused.
        const bool started = layer_ != nullptr &&
                             (layer_->state() == State::open || layer_->state() == State::closing);
        return started ? layer_ : nullptr;
    }
    void data_received(ByteView data) override {
        if (layer_ != nullptr) {
            layer_->on_lower_data(data);
        }
    }
    bool eof_received() override {
        if (layer_ != nullptr) {
            layer_->on_lower_eof();
        }
        return true; // the layer decides when the lower transport closes
    }
    void connection_lost(std::error_code error) override {
        if (layer_ != nullptr) {
            layer_->on_lower_lost(error);
        }
    }
    void pause_writing() override {
        if (layer_ != nullptr) {
            layer_->on_lower_pause();
        }
    }
    void resume_writing() override {
        if (layer_ != nullptr) {
            layer_->on_lower_resume();
        }
    }

private:
    LayeredTransport* layer_;
};

template <class Interface>
LayeredTransport<Interface>::LayeredTransport(std::shared_ptr<Transport> lower)
    : TransportCore<Interface>(lower->loop()), lower_(std::move(lower)) {}

template <class Interface>
LayeredTransport<Interface>::~LayeredTransport() {
    receipt_timer_.cancel();
    if (!lower_gone_ && receiver_ != nullptr) {
        receiver_->detach(); // never attached to a started layer, or the loop is going
        lower_->abort();
    }
}

template <class Interface>
NativeHandle LayeredTransport<Interface>::native_handle() const noexcept {
    return lower_->native_handle();
}

template <class Interface>
std::unique_ptr<Protocol> LayeredTransport<Interface>::attach() {
    auto receiver = std::make_unique<Receiver>(this);
    receiver_ = receiver.get();
    std::unique_ptr<Protocol> previous = lower_->set_protocol(std::move(receiver));
    lower_full_ = lower_->write_buffer_size() > lower_->write_buffer_limits().high;
    update_lower_reading();
    return previous;
}

// ---- reading ---------------------------------------------------------------------------

template <class Interface>
void LayeredTransport<Interface>::set_reading_for_layer(bool on) noexcept {
    layer_reading_ = on;
    update_lower_reading();
}

template <class Interface>
void LayeredTransport<Interface>::update_lower_reading() noexcept {
    if (lower_gone_ || lower_->is_closing()) {
        return;
    }
    const bool wanted = (plain_reading_ && pending_.empty()) ||
                        (layer_reading_ && pending_.size() < max_pending) || awaiting_receipt_;
    if (wanted && !lower_->is_reading()) {
        lower_->resume_reading();
    } else if (!wanted && lower_->is_reading()) {
        lower_->pause_reading();
    }
}

template <class Interface>
void LayeredTransport<Interface>::deliver_plain(ByteView data) {
    if (handles_closing_) {
        return; // closing (waiting for a receipt): nothing more is delivered
    }
    while (!data.empty()) {
        if (!pending_.empty() || this->state() != State::open || !this->is_reading()) {
            pending_.insert(pending_.end(), data.data(), data.data() + data.size());
            update_lower_reading();
            return;
        }
        const std::span<std::byte> space = this->read_space();
        const std::size_t n = std::min(space.size(), data.size());
        // memmove: for a data_received protocol both are the loop's read buffer (the lower
        // transport read into it too). Decoding only shrinks, so the plain bytes land at or
        // before the encoded ones and never on input not decoded yet. A decoder that handed
        // over bytes lying before where they are copied to would break that: checked here.
        assert(!(std::less<>{}(data.data(), space.data()) &&
                 std::less<>{}(space.data(), data.data() + data.size())));
        std::memmove(space.data(), data.data(), n);
        this->delivered(n);
        data = data.subview(n);
    }
}

template <class Interface>
void LayeredTransport<Interface>::deliver_pending() noexcept {
    delivery_scheduled_ = false;
    std::size_t offset = 0;
    while (offset < pending_.size() && this->state() == State::open && this->is_reading()) {
        const std::span<std::byte> space = this->read_space();
        const std::size_t n = std::min(space.size(), pending_.size() - offset);
        std::memcpy(space.data(), pending_.data() + offset, n);
        offset += n;
        this->delivered(n);
    }
    if (this->state() != State::open) {
        pending_.clear(); // closed meanwhile: nothing more is delivered
        return;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(offset));
    if (pending_.empty() && eof_pending_ && this->is_reading()) {
        eof_pending_ = false;
        this->os_eof();
    }
    if (pending_.empty() && !eof_pending_ && lost_after_pending_ && this->state() == State::open) {
        this->fail(lost_after_pending_);
        return;
    }
    update_lower_reading();
}

template <class Interface>
bool LayeredTransport<Interface>::start_reading() noexcept {
    plain_reading_ = true;
    if ((!pending_.empty() || eof_pending_) && !delivery_scheduled_) {
        // Not from inside resume_reading(): the protocol would be called back reentrantly.
        delivery_scheduled_ = true;
        this->loop().call_soon([self = this->shared_from_this(), this] { deliver_pending(); });
    }
    update_lower_reading();
    return true;
}

template <class Interface>
void LayeredTransport<Interface>::stop_reading() noexcept {
    plain_reading_ = false;
    update_lower_reading();
}

template <class Interface>
void LayeredTransport<Interface>::on_lower_data(ByteView data) noexcept {
    // The subclass's decoder calls deliver_plain(), which guards the protocol's callbacks;
    // this guards the decoder itself (it allocates).
    if (!detail::invoke_guarded(this->loop(), "exception in a layer's decoder",
                                [&] { lower_data(data); })) {
        this->fail(make_error_code(errc::callback_threw));
    }
}

template <class Interface>
void LayeredTransport<Interface>::on_lower_eof() noexcept {
    lower_ended_ = true;
    if (awaiting_receipt_) {
        close_lower_after_receipt(); // the peer ended first: it sends nothing more
        return;
    }
    if (lower_eof_passes_up()) {
        deliver_eof();
    }
}

template <class Interface>
void LayeredTransport<Interface>::end_after_pending(std::error_code error) noexcept {
    if (this->state() != State::open) {
        return; // closing already
    }
    if (pending_.empty() && !eof_pending_) {
        this->fail(error);
    } else {
        lost_after_pending_ = error; // what was decoded before it is delivered first
    }
}

template <class Interface>
void LayeredTransport<Interface>::deliver_eof() noexcept {
    if (this->state() == State::open && pending_.empty()) {
        this->os_eof();
    } else {
        eof_pending_ = true; // after what waits, or once the layer starts
    }
}

template <class Interface>
void LayeredTransport<Interface>::on_lower_lost(std::error_code error) noexcept {
    lower_gone_ = true;
    receiver_ = nullptr;
    awaiting_receipt_ = false;
    receipt_timer_.cancel();
    if (this->state() == State::idle) {
        lower_lost_before_start(error);
        return;
    }
    if (this->state() == State::closed) {
        return;
    }
    if (handles_closing_) {
        this->handles_closed();
        return;
    }
    if (this->state() == State::open && (!pending_.empty() || eof_pending_)) {
        // What arrived before the loss was received: the protocol gets it (and the EOF)
        // first. A write after the peer's EOF (a reset) must not cost the bytes read before.
        lost_after_pending_ = error ? error : make_error_code(errc::closed);
        return;
    }
    // Inside the lower transport's connection_lost, not inside a user's close(): this
    // layer's connection_lost may follow at once (close_handles() leaves it to us).
    in_lower_lost_ = true;
    if (error) {
        this->fail(error);
    } else {
        this->abort(); // closed cleanly underneath: nothing queued can be sent any more
    }
    in_lower_lost_ = false;
    if (handles_closing_ && this->state() != State::closed) {
        this->handles_closed();
    }
}

// ---- writing ---------------------------------------------------------------------------

template <class Interface>
std::ptrdiff_t LayeredTransport<Interface>::write_now(const ByteView* parts,
                                                      std::size_t count) noexcept {
    if (lower_full_ || !may_send() || lower_gone_ || lower_->is_closing()) {
        return 0; // a lower transport that is going reports why through connection_lost
    }
    // Handed down in slices, stopping as soon as the lower transport is full: what it has
    // not taken stays in this transport's queue, where the water marks and abort() see it.
    std::size_t taken = 0;
    std::size_t sliced = 0; // plain bytes in encoded_
    try {
        encoded_.clear();
        for (std::size_t i = 0; i < count; ++i) {
            ByteView part = parts[i];
            while (!part.empty()) {
                const std::size_t n = std::min(part.size(), write_slice - sliced);
                encode(ByteView(part.data(), n), encoded_);
                sliced += n;
                part = part.subview(n);
                if (sliced == write_slice) {
                    lower_->write(encoded_);
                    encoded_.clear();
                    taken += std::exchange(sliced, 0);
                    if (lower_full_ || lower_->is_closing()) {
                        return trimmed(static_cast<std::ptrdiff_t>(taken));
                    }
                }
            }
        }
    } catch (const std::bad_alloc&) {
        this->fail(std::make_error_code(std::errc::not_enough_memory));
        return -1;
    } catch (const std::system_error& e) {
        this->fail(e.code()); // the encoder refused (a TLS connection that failed)
        return -1;
    }
    if (sliced > 0) {
        lower_->write(encoded_);
        taken += sliced;
    }
    return trimmed(static_cast<std::ptrdiff_t>(taken));
}

template <class Interface>
std::ptrdiff_t LayeredTransport<Interface>::trimmed(std::ptrdiff_t taken) noexcept {
    // The scratch is kept for small writes (no allocation per message) but not at bulk size:
    // an idle connection would hold 64 KiB it no longer needs.
    if (encoded_.capacity() > max_kept_scratch) {
        Bytes().swap(encoded_);
    }
    return taken;
}

template <class Interface>
void LayeredTransport<Interface>::send_queued() noexcept {
    if (lower_full_ || !may_send() || flush_scheduled_) {
        return; // on_lower_resume() or sending_allowed() sends it
    }
    flush_scheduled_ = true;
    this->loop().call_soon([self = this->shared_from_this(), this] {
        flush_scheduled_ = false;
        sending_allowed();
    });
}

template <class Interface>
void LayeredTransport<Interface>::sending_allowed() noexcept {
    if (!lower_full_ && may_send() && this->write_buffer_size() > 0 &&
        (this->state() == State::open || this->state() == State::closing)) {
        this->send_from_queue();
    }
}

template <class Interface>
void LayeredTransport<Interface>::on_lower_resume() noexcept {
    lower_full_ = false;
    sending_allowed();
}

template <class Interface>
void LayeredTransport<Interface>::send_control(ByteView bytes) {
    if (!lower_gone_) {
        lower_->write(bytes);
    }
}

template <class Interface>
void LayeredTransport<Interface>::shutdown_write() noexcept {
    if (!lower_gone_) {
        lower_->write_eof();
    }
}

// ---- closing ---------------------------------------------------------------------------

template <class Interface>
void LayeredTransport<Interface>::close_handles() noexcept {
    handles_closing_ = true;
    pending_.clear();
    if (lower_gone_) {
        if (in_lower_lost_) {
            return; // on_lower_lost() reports the loss when this returns
        }
        if (LoopAccess::is_shutting_down(this->loop())) {
            this->handles_closed(); // no later iteration runs callbacks now
            return;
        }
        // A close() from the protocol (while what arrived before the loss is delivered):
        // connection_lost is never called from inside close().
        this->loop().call_soon([self = this->shared_from_this(), this] {
            if (this->state() != State::closed) {
                this->handles_closed();
            }
        });
    } else if (!this->closing_after_flush() && !flushes_lower_when_discarded()) {
        lower_->abort();
    } else if (lower_ended_ || !this->closing_after_flush()) {
        lower_->close(); // flushes what the layer handed down
    } else if (const std::chrono::milliseconds wait = ask_for_receipt(); wait.count() <= 0) {
        lower_->close();
    } else {
        awaiting_receipt_ = true;
        update_lower_reading();
        try {
            receipt_timer_ = this->loop().call_later(wait, [self = this->shared_from_this(), this,
                                                            wait] {
                log().debug("{}no receipt from the peer in {} ms: closing anyway",
                            this->log_name().empty() ? "" : this->log_name() + ": ", wait.count());
                close_lower_after_receipt();
            });
        } catch (const std::bad_alloc&) {
            close_lower_after_receipt();
        }
    }
}

template <class Interface>
void LayeredTransport<Interface>::receipt_arrived() noexcept {
    close_lower_after_receipt();
}

template <class Interface>
void LayeredTransport<Interface>::close_lower_after_receipt() noexcept {
    if (!awaiting_receipt_) {
        return;
    }
    awaiting_receipt_ = false;
    receipt_timer_.cancel();
    if (!lower_gone_) {
        lower_->close(); // its connection_lost is this layer's handles_closed()
    }
}

template <class Interface>
void LayeredTransport<Interface>::stop_lingering() noexcept {
    awaiting_receipt_ = false;
    receipt_timer_.cancel();
    if (!lower_gone_) {
        lower_->abort();
    } else if (handles_closing_ && !in_lower_lost_ && this->state() != State::closed &&
               LoopAccess::is_shutting_down(this->loop())) {
        // The loop is closing and dropped the callback close_handles() scheduled to report.
        this->handles_closed();
    }
}

template class LayeredTransport<Rfc2217Transport>;
template class LayeredTransport<TlsTransport>;
template class LayeredTransport<Rfc2217ServerTransport>;

} // namespace ferry::detail
