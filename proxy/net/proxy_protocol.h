// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that an L4 balancer puts before
// a connection's first byte to pass on the client's address: the parser and the encoder (pure,
// any thread) and the reader that takes a header off a socket. docs/proxy-protocol.md says how
// lbproxy uses it: read on listeners, sent to the backends of a cluster that asks for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct event;

namespace lb::common {
class EventLoop;
}

namespace lb::net {

// v1 is one line of at most 107 bytes; a v2 header is 16 bytes and its address block, whose
// TLVs lbproxy skips (a balancer's are a few dozen bytes; more is refused).
inline constexpr size_t kMaxProxyHeader = 16 + 1024;

struct ProxyHeader {
  // LOCAL (v2) or UNKNOWN (v1): a balancer's own connection, e.g. a health check; the
  // connection's own addresses stand.
  bool local = false;
  bool ipv6 = false;
  uint8_t source[16] = {};  // the client's address, 4 bytes for IPv4
  uint8_t dest[16] = {};    // the address the client connected to
  uint16_t source_port = 0;
  uint16_t dest_port = 0;
};

struct ProxyParse {
  enum class Status { kNeedMore, kDone, kError };
  Status status = Status::kNeedMore;
  size_t length = 0;       // bytes of the header (kDone)
  const char* error = "";  // kError: what was wrong
  ProxyHeader header;
};

// Looks at the first bytes of a connection. kNeedMore: wait for more (with at most
// kMaxProxyHeader in hand it never asks for more).
ProxyParse parseProxyHeader(const uint8_t* data, size_t len);

// Appends the header stating `h` in `version` (1: the text line, 2: the binary form, without
// TLVs). A `local` header is v1's "PROXY UNKNOWN" or v2's LOCAL command: what a proxy sends
// on connections of its own, such as health checks.
void encodeProxyHeader(const ProxyHeader& h, int version, std::string* out);

// Reads a connection's PROXY header straight from its socket, before a Stream reads anything
// (a TLS stream's handshake reads the socket itself, so the header must not be over-read): it
// peeks, and takes exactly the header's bytes once it is complete. Reports once, with kDone or
// kError (a malformed header, or the peer closed first); the owner keeps the deadline.
// Owner: the loop thread of `loop`; destroying it stops the reading.
class ProxyHeaderReader {
 public:
  using Done = void (*)(void* arg, const ProxyParse& result) noexcept;
  ProxyHeaderReader(common::EventLoop& loop, int fd, Done done, void* arg);
  ~ProxyHeaderReader();
  ProxyHeaderReader(const ProxyHeaderReader&) = delete;
  ProxyHeaderReader& operator=(const ProxyHeaderReader&) = delete;

 private:
  static void onReadable(int fd, short what, void* arg) noexcept;
  void read();

  int fd_;
  Done done_;
  void* arg_;
  ::event* ev_ = nullptr;
};

}  // namespace lb::net
