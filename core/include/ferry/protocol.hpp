#pragma once
/// Protocol and BufferedProtocol: what a user subclasses to receive a transport's events.

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <system_error>

#include <ferry/bytes.hpp>

namespace ferry {

class Transport;

/// Receives a transport's events, always on the loop thread, in this order:
/// connection_made once; data_received zero or more times; eof_received at most once;
/// connection_lost exactly once, last. pause_writing / resume_writing come in pairs in between.
/// The transport owns its protocol; keep the Transport& from connection_made, never a
/// shared_ptr to it (that would be a cycle).
class Protocol {
public:
    virtual ~Protocol() = default;
    /// The connection is up. `transport` stays valid until connection_lost returns.
    virtual void connection_made(Transport& transport) { (void)transport; }
    /// Bytes arrived. The view is valid only during the call: copy what you keep.
    virtual void data_received(ByteView data) { (void)data; }
    /// The peer closed its sending side. Return true to keep the connection half-open
    /// (you may still write); false closes the transport.
    virtual bool eof_received() { return false; }
    /// The connection is gone: empty code for a clean close or abort, the OS or ferry
    /// error otherwise. Called exactly once, last, never from inside close() or abort().
    virtual void connection_lost(std::error_code error) { (void)error; }
    /// The transport's write buffer went above its high-water mark: stop writing.
    virtual void pause_writing() {}
    /// The write buffer drained to its low-water mark: writing may go on.
    virtual void resume_writing() {}
};

/// A protocol that receives into its own memory instead of being handed a view.
/// The transport asks get_buffer(hint) for space, reads into it, then calls buffer_updated(n).
class BufferedProtocol : public Protocol {
public:
    /// Memory for the next read; must be non-empty. `size_hint` is what the transport would like.
    /// For bulk reads, start it on a cache line (ferry's `Bytes` above 1 KiB do): the kernel's
    /// copy into memory 16 bytes off one, as malloc gives, runs at half speed on AMD EPYC.
    virtual std::span<std::byte> get_buffer(std::size_t size_hint) = 0;
    /// `nbytes` bytes were written at the start of the last buffer returned.
    virtual void buffer_updated(std::size_t nbytes) = 0;
    /// Copies `data` through get_buffer/buffer_updated, for transports that read elsewhere.
    void data_received(ByteView data) final;
};

/// Makes a fresh protocol for each connection (a server calls it once per client).
using ProtocolFactory = std::function<std::unique_ptr<Protocol>()>;

} // namespace ferry
