#pragma once
// Whether a bridge may pause a side's reading: shared by bridge() and the hub.

#include <ferry/bridge.hpp>
#include <ferry/serial.hpp>

namespace ferry::detail {

/// Resolves Pausing::automatic: every transport pauses except a serial port whose sender does
/// not wait (no flow control, not a pty), where pausing would only move the loss into the
/// UART's overrun, unseen.
inline bool can_pause(const Transport& transport, Pausing pausing) {
    switch (pausing) {
    case Pausing::pause:
        return true;
    case Pausing::never:
        return false;
    case Pausing::automatic:
        break;
    }
    const auto* serial = dynamic_cast<const SerialTransport*>(&transport);
    return serial == nullptr || serial->pauses_sender();
}

} // namespace ferry::detail
