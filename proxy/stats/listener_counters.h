// Per-listener counters that the route and host statistics do not carry: requests by client
// protocol and TLS version, TLS handshakes and PROXY protocol headers by result. Worker-local (one
// owner thread); merged on the main thread at scrape time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lb::stats {

enum class ClientProtocol : uint8_t { kHttp1, kH2 };
constexpr size_t kClientProtocols = 2;
enum class TlsVersion : uint8_t { kNone, kTls12, kTls13 };
constexpr size_t kTlsVersions = 3;
enum class HandshakeResult : uint8_t { kFull, kResumed, kFailed, kTimeout };
constexpr size_t kHandshakeResults = 4;

// PROXY protocol headers on listeners that require one: taken (with an address, or LOCAL),
// malformed or missing, not in time, or from a peer outside `trusted` (refused unread).
enum class ProxyResult : uint8_t { kOk, kLocal, kInvalid, kTimeout, kUntrusted };
constexpr size_t kProxyResults = 5;
inline const char* proxyResultName(size_t i) {
  static const char* const kNames[] = {"ok", "local", "invalid", "timeout", "untrusted"};
  return kNames[i];
}

inline const char* clientProtocolName(size_t i) { return i == 0 ? "http/1.1" : "h2"; }
inline const char* tlsVersionName(size_t i) {
  static const char* const kNames[] = {"none", "TLSv1.2", "TLSv1.3"};
  return kNames[i];
}
inline const char* handshakeResultName(size_t i) {
  static const char* const kNames[] = {"full", "resumed", "failed", "timeout"};
  return kNames[i];
}

struct ListenerCounters {
  uint64_t requests[kClientProtocols][kTlsVersions] = {};
  uint64_t handshakes[kHandshakeResults] = {};
  uint64_t proxy_headers[kProxyResults] = {};

  void countRequest(ClientProtocol p, TlsVersion v) {
    ++requests[static_cast<size_t>(p)][static_cast<size_t>(v)];
  }
  void countHandshake(HandshakeResult r) { ++handshakes[static_cast<size_t>(r)]; }
  void countProxyHeader(ProxyResult r) { ++proxy_headers[static_cast<size_t>(r)]; }
  void merge(const ListenerCounters& o) {
    for (size_t p = 0; p < kClientProtocols; ++p)
      for (size_t v = 0; v < kTlsVersions; ++v) requests[p][v] += o.requests[p][v];
    for (size_t r = 0; r < kHandshakeResults; ++r) handshakes[r] += o.handshakes[r];
    for (size_t r = 0; r < kProxyResults; ++r) proxy_headers[r] += o.proxy_headers[r];
  }
};

}  // namespace lb::stats
