#pragma once
// Certificates for the TLS tests, made with OpenSSL's API in a temp directory when first
// asked for (never committed): a CA, server and client certificates it signed, and the bad
// ones the tests need (expired, self-signed, for another name, a key that matches nothing).

#include <string>

namespace ferry::test {

/// PEM files, each a path.
struct TestPki {
    std::string ca_cert;          ///< the test CA ("ferry test CA")
    std::string server_cert;      ///< localhost, 127.0.0.1 and ::1, signed by the CA
    std::string server_key;       ///< its key
    std::string client_cert;      ///< "ferry test client", signed by the CA
    std::string client_key;       ///< its key
    std::string expired_cert;     ///< localhost, signed by the CA, expired yesterday
    std::string expired_key;      ///< its key
    std::string self_signed_cert; ///< localhost, signed by itself
    std::string self_signed_key;  ///< its key
    std::string other_name_cert;  ///< "elsewhere.example", signed by the CA
    std::string other_name_key;   ///< its key
    std::string stray_key;        ///< a key no certificate belongs to
    std::string other_ca_cert;    ///< a second CA that signed nothing used here
    std::string directory;        ///< where they all are
};

/// The program's certificates, made on first use (thread-safe); removed at exit.
const TestPki& test_pki();

} // namespace ferry::test
