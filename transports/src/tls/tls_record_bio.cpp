// The record BIO: a source/sink BIO over TlsRecordBuffers (see tls_record_bio.hpp).
#include "tls/tls_record_bio.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace ferry::detail {
namespace {

TlsRecordBuffers& buffers_of(BIO* bio) {
    return *static_cast<TlsRecordBuffers*>(BIO_get_data(bio));
}

int read_records(BIO* bio, char* data, std::size_t want, std::size_t* got) {
    TlsRecordBuffers& b = buffers_of(bio);
    BIO_clear_retry_flags(bio);
    const std::size_t n = std::min(want, b.readable());
    *got = n;
    if (n == 0) {
        BIO_set_retry_read(bio); // nothing yet: more comes with the next feed, as a memory BIO
        return 0;
    }
    std::memcpy(data, b.unread.data() + b.unread_taken, n);
    b.unread_taken += n;
    if (b.unread_taken == b.unread.size()) {
        b.unread_taken = 0;
        b.unread.clear(); // keeps the memory: freeing it per read made malloc trim and regrow
    }
    return 1;
}

int write_records(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
    TlsRecordBuffers& b = buffers_of(bio);
    BIO_clear_retry_flags(bio);
    try {
        const auto* bytes = reinterpret_cast<const std::byte*>(data);
        b.target->insert(b.target->end(), bytes, bytes + size);
    } catch (const std::bad_alloc&) {
        *written = 0;
        return 0; // OpenSSL fails the write; the session reports it
    }
    *written = size;
    return 1;
}

long control(BIO* bio, int command, long, void*) {
    switch (command) {
    case BIO_CTRL_PENDING:
        return static_cast<long>(buffers_of(bio).readable());
    case BIO_CTRL_FLUSH: // written records are already where they go
    case BIO_CTRL_PUSH:
    case BIO_CTRL_POP:
        return 1;
    default: // WPENDING (nothing is held back), EOF (more may come), kTLS queries: no
        return 0;
    }
}

int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

BIO_METHOD* record_bio_method() {
    // One per process, made on first use and kept (OpenSSL copies nothing from it per BIO).
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m =
            BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ferry TLS records");
        if (m != nullptr) {
            BIO_meth_set_read_ex(m, read_records);
            BIO_meth_set_write_ex(m, write_records);
            BIO_meth_set_ctrl(m, control);
            BIO_meth_set_create(m, create);
        }
        return m;
    }();
    return method;
}

} // namespace

BIO* make_record_bio(TlsRecordBuffers& buffers) {
    BIO_METHOD* method = record_bio_method();
    BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
    if (bio != nullptr) {
        BIO_set_data(bio, &buffers);
    }
    return bio;
}

} // namespace ferry::detail
