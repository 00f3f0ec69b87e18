#include "proxy/tls/client_context.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "config/tls_files.h"
#include "proxy/tls/policy.h"

namespace lb::tls {

namespace {

constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int g_cache_index = -1;  // SSL ex_data slot: the connection's SessionCache

bool isIpAddress(const std::string& text) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

std::string ipOf(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, text, sizeof(text));
  else if (addr->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, text,
              sizeof(text));
  return text;
}

}  // namespace

SessionCache::~SessionCache() { clear(); }

void SessionCache::store(SSL_SESSION* session) {
  clear();
  session_ = session;
}

void SessionCache::clear() {
  if (session_) SSL_SESSION_free(session_);
  session_ = nullptr;
}

ClientContext::FileStamp ClientContext::stamp(const std::string& path) {
  FileStamp s;
  s.path = path;
  struct stat st {};
  if (!path.empty() && ::stat(path.c_str(), &st) == 0) {
    s.size = static_cast<long long>(st.st_size);
    s.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  }
  return s;
}

std::shared_ptr<const ClientContext> ClientContext::build(const config::UpstreamTlsConfig& tls,
                                                          std::string* error) {
  static const bool index_ready = [] {
    g_cache_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return g_cache_index >= 0;
  }();
  std::shared_ptr<ClientContext> self(new ClientContext());
  self->config_ = tls;
  self->name_is_ip_ = !tls.server_name.empty() && isIpAddress(tls.server_name);
  // Stamped before reading: a file replaced while we read it is read again next time.
  for (const std::string* path : {&tls.ca_file, &tls.client_cert, &tls.client_key})
    if (!path->empty()) self->files_.push_back(stamp(*path));
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx || !index_ready) {
    *error = "SSL_CTX_new: " + config::takeOpenSslError("unknown OpenSSL error");
    return nullptr;
  }
  self->ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  // A backend that closes without close_notify (many do) ends an until-close body like a FIN.
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // As on listeners: write from our buffers in pieces, and hand the record buffers back while
  // a pooled connection is idle.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1 ||
      SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof(kAlpnHttp11)) != 0) {
    *error = "cipher setup: " + config::takeOpenSslError("unknown OpenSSL error");
    return nullptr;
  }
  if (tls.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const int loaded = tls.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx)
                           : SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      *error = "CA file " + (tls.ca_file.empty() ? std::string("(system)") : tls.ca_file) + ": " +
               config::takeOpenSslError("unknown OpenSSL error");
      return nullptr;
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!tls.client_cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, tls.client_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls.client_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      *error = "client certificate " + tls.client_cert + ": " +
               config::takeOpenSslError("unknown OpenSSL error");
      return nullptr;
    }
  }
  if (tls.session_reuse) {
    // Sessions are kept by us (per worker and host), not in the context's shared cache.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, onNewSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  return self;
}

ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }

SSL* ClientContext::newSession(const sockaddr* host, SessionCache* cache) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  const std::string& name = config_.server_name;
  bool ok = true;
  if (!name.empty() && !name_is_ip_) {
    ok = SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
    if (config_.verify) ok = ok && SSL_set1_host(ssl, name.c_str()) == 1;
  } else if (config_.verify) {
    // No name to check: the certificate must carry the address we connected to.
    const std::string ip = name.empty() ? ipOf(host) : name;
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip.c_str()) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    SSL_free(ssl);
    return nullptr;
  }
  if (cache && config_.session_reuse) {
    SSL_set_ex_data(ssl, g_cache_index, cache);
    if (SSL_SESSION* last = cache->get()) SSL_set_session(ssl, last);
  }
  return ssl;
}

int ClientContext::onNewSession(SSL* ssl, SSL_SESSION* session) noexcept {
  auto* cache = static_cast<SessionCache*>(SSL_get_ex_data(ssl, g_cache_index));
  if (!cache) return 0;  // not kept: OpenSSL frees it
  cache->store(session);
  return 1;  // we hold the reference now
}

bool ClientContext::sameAs(const config::UpstreamTlsConfig& tls) const {
  const config::UpstreamTlsConfig& a = config_;
  if (a.enabled != tls.enabled || a.verify != tls.verify || a.ca_file != tls.ca_file ||
      a.server_name != tls.server_name || a.min_version != tls.min_version ||
      a.client_cert != tls.client_cert || a.client_key != tls.client_key ||
      a.session_reuse != tls.session_reuse)
    return false;
  for (const FileStamp& f : files_) {
    FileStamp now = stamp(f.path);
    if (now.size != f.size || now.mtime_ns != f.mtime_ns) return false;
  }
  return true;
}

}  // namespace lb::tls
