#include "proxy/tls/server_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstring>

#include "config/tls_files.h"
#include "proxy/tls/policy.h"
#include "proxy/tls/ticket_keys.h"

namespace lb::tls {

namespace {

// ALPN wire format: length-prefixed names, in our order of preference.
constexpr unsigned char kAlpnH2[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnH1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int g_rotation_index = -1;  // SSL_CTX ex_data slot for the ticket rotation period

int onTicketKey(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                EVP_MAC_CTX* mac, int encrypt) noexcept {
  auto* rotation =
      static_cast<const int64_t*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_rotation_index));
  return ticketKeyCallback(rotation ? *rotation : 3600, key_name, iv, cipher, mac, encrypt);
}

bool readCertificate(const config::TlsCertificateConfig& c, X509** leaf, EVP_PKEY** key,
                     STACK_OF(X509) * *chain, std::string* error) {
  FILE* f = std::fopen(c.cert.c_str(), "r");
  if (!f) {
    *error = "cannot open certificate file " + c.cert + ": " + std::strerror(errno);
    return false;
  }
  *leaf = PEM_read_X509(f, nullptr, nullptr, nullptr);
  *chain = sk_X509_new_null();
  while (*leaf && *chain) {
    X509* extra = PEM_read_X509(f, nullptr, nullptr, nullptr);
    if (!extra) break;
    sk_X509_push(*chain, extra);
  }
  std::fclose(f);
  ERR_clear_error();  // the loop ends on "no start line"
  if (!*leaf) {
    *error = "no PEM certificate in " + c.cert;
    return false;
  }
  f = std::fopen(c.key.c_str(), "r");
  if (!f) {
    *error = "cannot open key file " + c.key + ": " + std::strerror(errno);
    return false;
  }
  *key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!*key) {
    *error = "no PEM private key in " + c.key + " (" +
             config::takeOpenSslError("unknown OpenSSL error") + ")";
    return false;
  }
  if (X509_check_private_key(*leaf, *key) != 1) {
    ERR_clear_error();
    *error = "key " + c.key + " does not match certificate " + c.cert;
    return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<const ServerContext> ServerContext::build(const config::TlsConfig& tls,
                                                          bool offer_h2,
                                                          const std::string& session_id_context,
                                                          std::string* error) {
  static const bool index_ready = [] {
    g_rotation_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return g_rotation_index >= 0;
  }();
  std::shared_ptr<ServerContext> self(new ServerContext());
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || !index_ready) {
    *error = "SSL_CTX_new: " + config::takeOpenSslError("unknown OpenSSL error");
    return nullptr;
  }
  self->ctx_ = ctx;
  self->offer_h2_ = offer_h2;
  SSL_CTX_set_min_proto_version(ctx, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Write straight from our buffers in pieces, and give the 34 KiB of record buffers back
  // while a connection is idle (idle keep-alive connections are most connections).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_max_early_data(ctx, 0);
  // One recv takes whatever records are there (a request is one read, not header + body);
  // net::Stream then knows from a short recv that the socket is empty.
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    *error = "cipher setup: " + config::takeOpenSslError("unknown OpenSSL error");
    return nullptr;
  }
  // No server-side session cache: it would be per worker, and tickets resume on any worker.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  std::string sid = session_id_context.substr(0, SSL_MAX_SID_CTX_LENGTH);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(sid.data()),
                                 static_cast<unsigned int>(sid.size()));
  if (tls.session_tickets) {
    auto* rotation = new int64_t(tls.ticket_key_rotation.count() / 1000);
    SSL_CTX_set_ex_data(ctx, g_rotation_index, rotation);
    self->rotation_seconds_.reset(rotation);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, onTicketKey);
  } else {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }

  for (const auto& c : tls.certificates) {
    Certificate cert;
    bool ok = readCertificate(c, &cert.leaf, &cert.key, &cert.chain, error);
    self->certificates_.push_back(cert);  // freed by the destructor either way
    if (!ok) return nullptr;
  }
  if (self->certificates_.empty()) {
    *error = "no certificate";
    return nullptr;
  }
  const Certificate& def = self->certificates_[0];
  if (SSL_CTX_use_cert_and_key(ctx, def.leaf, def.key, def.chain, 1) != 1) {
    *error = "default certificate: " + config::takeOpenSslError("unknown OpenSSL error");
    return nullptr;
  }
  SSL_CTX_set_tlsext_servername_callback(ctx, onServerName);
  SSL_CTX_set_tlsext_servername_arg(ctx, self.get());
  SSL_CTX_set_alpn_select_cb(ctx, onAlpn, self.get());
  return self;
}

ServerContext::~ServerContext() {
  for (auto& c : certificates_) {
    X509_free(c.leaf);
    EVP_PKEY_free(c.key);
    sk_X509_pop_free(c.chain, X509_free);
  }
  SSL_CTX_free(ctx_);
}

SSL* ServerContext::newSession() const { return SSL_new(ctx_); }

int ServerContext::onServerName(SSL* ssl, int*, void* arg) noexcept {
  auto* self = static_cast<const ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name || self->certificates_.size() < 2) return SSL_TLSEXT_ERR_OK;
  const size_t len = std::strlen(name);
  for (size_t i = 1; i < self->certificates_.size(); ++i) {
    const Certificate& c = self->certificates_[i];
    if (X509_check_host(c.leaf, name, len, 0, nullptr) == 1) {
      if (SSL_use_cert_and_key(ssl, c.leaf, c.key, c.chain, 1) != 1) {
        ERR_clear_error();
        return SSL_TLSEXT_ERR_ALERT_FATAL;
      }
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_OK;  // unknown name: the default certificate
}

int ServerContext::onAlpn(SSL*, const unsigned char** out, unsigned char* outlen,
                          const unsigned char* in, unsigned int inlen, void* arg) noexcept {
  auto* self = static_cast<const ServerContext*>(arg);
  const unsigned char* ours = self->offer_h2_ ? kAlpnH2 : kAlpnH1;
  const unsigned int ours_len = self->offer_h2_ ? sizeof(kAlpnH2) : sizeof(kAlpnH1);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // nothing in common: go on without ALPN (HTTP/1.1)
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

bool ServerContext::negotiatedH2(const SSL* ssl) {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  return len == 2 && std::memcmp(proto, "h2", 2) == 0;
}

const char* ServerContext::versionName(const SSL* ssl) { return SSL_get_version(ssl); }

}  // namespace lb::tls
