// The TLS side of one listener: an OpenSSL SSL_CTX with the listener's certificates, the
// protocol policy (TLS 1.2/1.3 only, ECDHE + AEAD ciphers, no renegotiation, no compression,
// no 0-RTT), SNI certificate choice, ALPN (h2, http/1.1) and session tickets.
//
// Built on the main thread with each snapshot (so a reload re-reads certificates and keys),
// then immutable: workers call newSession() concurrently, which OpenSSL allows on a shared
// SSL_CTX. A connection keeps its ServerContext (shared_ptr) for its whole life, because the
// ticket callback of a TLS 1.3 connection can run after the handshake.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"

struct ssl_st;
struct ssl_ctx_st;
struct x509_st;
struct evp_pkey_st;
struct stack_st_X509;

namespace lb::tls {

class ServerContext {
 public:
  // nullptr and *error on an unreadable certificate or key, or an OpenSSL failure.
  // `session_id_context` separates resumption between listeners (the listener name).
  static std::shared_ptr<const ServerContext> build(const config::TlsConfig& tls, bool offer_h2,
                                                    const std::string& session_id_context,
                                                    std::string* error);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // A new server-side SSL for one accepted connection (nullptr when out of memory).
  ssl_st* newSession() const;

  // The protocol ALPN agreed for an established SSL: "h2", or "http/1.1" (also when the
  // client offered no ALPN).
  static bool negotiatedH2(const ssl_st* ssl);
  // "TLSv1.3", "TLSv1.2".
  static const char* versionName(const ssl_st* ssl);

 private:
  struct Certificate {
    x509_st* leaf = nullptr;
    evp_pkey_st* key = nullptr;
    stack_st_X509* chain = nullptr;  // intermediates after the leaf in the PEM file
  };
  ServerContext() = default;
  static int onServerName(ssl_st* ssl, int* alert, void* arg) noexcept;
  static int onAlpn(ssl_st* ssl, const unsigned char** out, unsigned char* outlen,
                    const unsigned char* in, unsigned int inlen, void* arg) noexcept;

  ssl_ctx_st* ctx_ = nullptr;
  std::vector<Certificate> certificates_;  // [0] is the default, installed on ctx_
  bool offer_h2_ = false;
  std::unique_ptr<int64_t> rotation_seconds_;  // read by the ticket callback via ex_data
};

}  // namespace lb::tls
