// Makes the TLS tests' certificates with OpenSSL's API: P-256 keys, X.509 v3 certificates.
#include "test_pki.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "temp_dir.hpp"

namespace ferry::test {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string("test PKI: ") + what);
    }
}

Key new_key() {
    Key key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/// A certificate for `key` named `common_name`, valid from `from_days` to `to_days` (relative
/// to now), signed by `issuer_key` as `issuer` (itself when null).
Cert make_cert(EVP_PKEY* key, const char* common_name, const char* alt_names, bool is_ca,
               long from_days, long to_days, X509* issuer, EVP_PKEY* issuer_key) {
    static long serial = 1;
    Cert cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_days * 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
    X509* signer = issuer != nullptr ? issuer : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
    add_extension(cert.get(), signer, NID_basic_constraints,
                  is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
    if (is_ca) {
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
        add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    if (alt_names != nullptr) {
        add_extension(cert.get(), signer, NID_subject_alt_name, alt_names);
    }
    check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
          "X509_sign");
    return cert;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    check(file != nullptr, "cannot write a PEM file");
    const bool ok = cert != nullptr ? PEM_write_X509(file, cert) == 1
                                    : PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr,
                                                           nullptr) == 1;
    std::fclose(file);
    check(ok, "PEM_write");
}

TestPki make_pki(const std::filesystem::path& dir) {
    TestPki pki;
    pki.directory = dir.string();
    const auto path = [&](const char* name) { return (dir / name).string(); };
    const char* server_names = "DNS:localhost,IP:127.0.0.1,IP:::1";

    Key ca_key = new_key();
    Cert ca = make_cert(ca_key.get(), "ferry test CA", nullptr, true, -1, 3650, nullptr, nullptr);
    const auto signed_pair = [&](const char* stem, const char* cn, const char* alt, long from,
                                 long to, std::string& cert_path, std::string& key_path) {
        Key key = new_key();
        Cert cert = make_cert(key.get(), cn, alt, false, from, to, ca.get(), ca_key.get());
        cert_path = path((std::string(stem) + ".pem").c_str());
        key_path = path((std::string(stem) + ".key").c_str());
        write_pem(cert_path, cert.get(), nullptr);
        write_pem(key_path, nullptr, key.get());
    };
    pki.ca_cert = path("ca.pem");
    write_pem(pki.ca_cert, ca.get(), nullptr);
    signed_pair("server", "localhost", server_names, -1, 3650, pki.server_cert, pki.server_key);
    signed_pair("client", "ferry test client", nullptr, -1, 3650, pki.client_cert, pki.client_key);
    signed_pair("expired", "localhost", server_names, -30, -1, pki.expired_cert, pki.expired_key);
    signed_pair("other-name", "elsewhere.example", "DNS:elsewhere.example", -1, 3650,
                pki.other_name_cert, pki.other_name_key);

    Key self_key = new_key();
    Cert self =
        make_cert(self_key.get(), "localhost", server_names, false, -1, 3650, nullptr, nullptr);
    pki.self_signed_cert = path("self-signed.pem");
    pki.self_signed_key = path("self-signed.key");
    write_pem(pki.self_signed_cert, self.get(), nullptr);
    write_pem(pki.self_signed_key, nullptr, self_key.get());

    Key stray = new_key();
    pki.stray_key = path("stray.key");
    write_pem(pki.stray_key, nullptr, stray.get());

    Key other_ca_key = new_key();
    Cert other_ca =
        make_cert(other_ca_key.get(), "another CA", nullptr, true, -1, 3650, nullptr, nullptr);
    pki.other_ca_cert = path("other-ca.pem");
    write_pem(pki.other_ca_cert, other_ca.get(), nullptr);
    return pki;
}

} // namespace

const TestPki& test_pki() {
    static TempDir dir("ferry-pki");
    static const TestPki pki = make_pki(dir.path());
    return pki;
}

} // namespace ferry::test
