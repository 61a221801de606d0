#pragma once
// The BIO a TlsSession gives OpenSSL: ciphertext from the peer is read from one buffer that
// keeps its memory between records, and records for the peer are written straight into the
// buffer that goes down to the lower transport. A pair of memory BIOs cleared memory before
// each copy in and copied every outgoing record twice more.

#include <cstddef>

#include <openssl/bio.h>

#include <ferry/bytes.hpp>

namespace ferry::detail {

/// The bytes behind a record BIO. Loop thread only.
struct TlsRecordBuffers {
    /// Ciphertext from the peer; OpenSSL has taken the first `unread_taken` bytes.
    Bytes unread{};
    std::size_t unread_taken = 0;
    /// Records OpenSSL made, for the peer.
    Bytes outbox{};
    /// Where OpenSSL's records go now: `outbox`, or the caller's buffer during encrypt().
    Bytes* target = &outbox;

    /// Ciphertext waiting to be read.
    std::size_t readable() const noexcept { return unread.size() - unread_taken; }
};

/// A BIO reading from and writing to `buffers` (which must outlive it); null on failure.
BIO* make_record_bio(TlsRecordBuffers& buffers);

} // namespace ferry::detail
