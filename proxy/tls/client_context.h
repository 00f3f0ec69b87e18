// The TLS side of the connections to one cluster's hosts: an OpenSSL client SSL_CTX with the
// cluster's trust (a CA bundle, or the system's), the protocol policy of proxy/tls/policy.h,
// an optional client certificate (mTLS), ALPN and session resumption.
//
// Built on the main thread with a snapshot (a reload re-reads the files when they changed),
// then immutable: workers and the health checker call newSession() concurrently, which
// OpenSSL allows on a shared SSL_CTX.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "config/model.h"

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

namespace lb::tls {

// The last session a backend gave us, to resume the next handshake with it. One per worker
// and host (and one per health probe), so it is written and read by one thread: the TLS
// new-session callback runs inside that thread's SSL_read or handshake.
class SessionCache {
 public:
  SessionCache() = default;
  ~SessionCache();
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;

  void store(ssl_session_st* session);  // takes the caller's reference
  ssl_session_st* get() const { return session_; }
  void clear();

 private:
  ssl_session_st* session_ = nullptr;
};

class ClientContext {
 public:
  // nullptr and *error on an unreadable CA bundle, client certificate or key, or an OpenSSL
  // failure.
  static std::shared_ptr<const ClientContext> build(const config::UpstreamTlsConfig& tls,
                                                    std::string* error);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // A client SSL for one connection to `host` (whose IP is verified when the cluster names no
  // server_name). `cache` (may be null; must outlive the SSL's reads) resumes the last session
  // and keeps the new one. nullptr when out of memory.
  ssl_st* newSession(const sockaddr* host, SessionCache* cache) const;

  // True when `tls` has the same settings and its files are unchanged on disk since this
  // context read them (size and modification time), so a rebuilt snapshot can keep it.
  bool sameAs(const config::UpstreamTlsConfig& tls) const;

 private:
  struct FileStamp {
    std::string path;
    long long size = -1;
    long long mtime_ns = -1;
  };
  ClientContext() = default;
  static FileStamp stamp(const std::string& path);
  static int onNewSession(ssl_st* ssl, ssl_session_st* session) noexcept;

  ssl_ctx_st* ctx_ = nullptr;
  config::UpstreamTlsConfig config_;
  std::vector<FileStamp> files_;
  bool name_is_ip_ = false;  // server_name is an IP address: verified, not sent as SNI
};

}  // namespace lb::tls
