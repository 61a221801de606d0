#pragma once
/// The bridge hub: one device shared with the clients of a server, as ser2net does it — the
/// device may come and go (reconnects) and so may the clients, without ending the other side.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include <ferry/bridge.hpp>
#include <ferry/loop.hpp>
#include <ferry/transport.hpp>

namespace ferry {

/// How device output reaches several clients.
enum class ClientFlow {
    /// End to end: a client that cannot keep up pauses the device (one client at a time:
    /// ser2net's exclusive and kick-old modes).
    backpressure,
    /// Each client gets its own bounded buffer; a client whose buffer fills is dropped,
    /// counted and logged, and never stalls the device or the other clients.
    drop_stalled_client,
};

/// How a hub relays.
struct HubOptions {
    /// Device output to clients: back-pressure or dropping stalled clients.
    ClientFlow client_flow = ClientFlow::backpressure;
    /// Each transport's write-buffer high mark (pause the sources above it)...
    std::size_t high_water = 64 * 1024;
    /// ...and low mark (resume them at it).
    std::size_t low_water = 16 * 1024;
    /// The most bytes queued towards a client (or the device) whose source cannot pause; with
    /// drop_stalled_client, the queue at which a client is dropped.
    std::size_t max_buffer = 1024 * 1024;
    /// Whether the device may be paused (see Pausing).
    Pausing device_pausing = Pausing::automatic;
    /// Clients' input is discarded (counted), never written to the device.
    bool read_only = false;
    /// A client that sends and receives nothing for this long is closed (zero: never).
    std::chrono::milliseconds client_idle_timeout{0};
    /// The device's name for log lines.
    std::string device_name = "device";
};

/// What a hub has done so far (ser2net's showport, without the settings).
struct HubStats {
    /// Bytes read from the device.
    std::uint64_t device_bytes_read = 0;
    /// Bytes written to the device (from clients and write_to_device).
    std::uint64_t device_bytes_written = 0;
    /// Bytes read from clients.
    std::uint64_t client_bytes_read = 0;
    /// Bytes written to clients (each client counted).
    std::uint64_t client_bytes_written = 0;
    /// Device bytes nobody received: no client connected, or a buffer at max_buffer.
    std::uint64_t device_bytes_dropped = 0;
    /// Client bytes not written: read-only, no device, or the device's buffer at max_buffer.
    std::uint64_t client_bytes_dropped = 0;
    /// Clients dropped because their buffer filled (drop_stalled_client).
    std::uint64_t clients_dropped = 0;
    /// Clients added.
    std::uint64_t connects = 0;
    /// Clients gone.
    std::uint64_t disconnects = 0;
    /// Times the device was attached.
    std::uint64_t device_opens = 0;
    /// Clients connected now.
    std::size_t clients = 0;
};

/// What a hub tells its owner (each optional; loop thread).
struct HubEvents {
    /// The device's connection ended (`error` empty for a clean close or end of input); the
    /// clients stay connected, their reading paused until set_device() gives a new one.
    std::function<void(std::error_code error)> device_lost;
    /// A client left; `remaining` are still connected.
    std::function<void(const std::string& name, std::size_t remaining)> client_left;
    /// Every chunk relayed (for traces): client input on its way to the device
    /// (`to_device`, with the client's name), or device output on its way to the clients.
    std::function<void(bool to_device, const std::string& client, ByteView bytes)> traffic;
};

/// One device, any number of clients. Loop thread only. Device output goes to every client;
/// client input goes to the device. Owns the transports it is given until they close.
class BridgeHub {
public:
    virtual ~BridgeHub() = default;
    /// Attaches the (new) device; a previous device must have been lost or detached.
    virtual void set_device(std::shared_ptr<Transport> device) = 0;
    /// True while a device is attached.
    virtual bool has_device() const noexcept = 0;
    /// The attached device, or null.
    virtual std::shared_ptr<Transport> device() const noexcept = 0;
    /// Closes the device (flushing it); the clients stay.
    virtual void close_device() noexcept = 0;
    /// Adds a client; `name` (e.g. its address) is used in log lines. A paused client is
    /// resumed when there is a device to write to; until then every client is held paused.
    virtual void add_client(std::shared_ptr<Transport> client, std::string name) = 0;
    /// Clients connected now.
    virtual std::size_t client_count() const noexcept = 0;
    /// Flushes and closes every client (kick-old, shutdown).
    virtual void close_clients() noexcept = 0;
    /// Writes to the device if attached (open and close strings); false if not.
    virtual bool write_to_device(ByteView bytes) = 0;
    /// Writes to every client (a notice such as "device unavailable").
    virtual void write_to_clients(ByteView bytes) = 0;
    /// Closes the device and every client at once, dropping what is queued.
    virtual void abort() noexcept = 0;
    /// Counters.
    virtual HubStats stats() const noexcept = 0;
};

/// Makes a hub with no device and no client yet.
std::shared_ptr<BridgeHub> make_bridge_hub(Loop& loop, HubOptions options = {},
                                           HubEvents events = {});

} // namespace ferry
