// Who a client connection is: its address as text (X-Forwarded-For, the access log) and both
// ends as a PROXY protocol header states them, for a cluster that sends one to its backends.
// The peer's address stands unless a trusted balancer's PROXY header replaced it. The local
// end is asked of the kernel only when a header is first encoded (one getsockname per
// connection, none for connections that never go to such a cluster).
// Owner: the client connection (DownstreamSession, then its H2Session); its thread only.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "proxy/net/proxy_protocol.h"

namespace lb::stream {

class ClientAddresses {
 public:
  ClientAddresses() = default;
  // `fd` is the client socket, `peer` its address (IPv4 or IPv6) as accept() gave it.
  ClientAddresses(int fd, const sockaddr* peer);

  // A PROXY header from a trusted balancer (not LOCAL): its addresses are the client's.
  void replace(const net::ProxyHeader& header);

  const std::string& ip() const { return ip_; }
  // The peer's address bytes (4 for IPv4) for network matching; the balancer's, never the
  // header's, until replace().
  const uint8_t* address() const { return h_.source; }
  bool ipv6() const { return h_.ipv6; }

  // Appends the PROXY header of `version` (1 or 2) that states this connection.
  void encodeProxyHeader(int version, std::string* out);

 private:
  void learnLocal();

  net::ProxyHeader h_;
  std::string ip_;
  int fd_ = -1;
  bool local_known_ = false;
};

}  // namespace lb::stream
