#include "proxy/stream/client_addresses.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace lb::stream {

namespace {

// Copies an IPv4 or IPv6 socket address into `addr` and `port`; false for any other family.
bool takeAddress(const sockaddr* sa, bool* ipv6, uint8_t* addr, uint16_t* port) {
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    *ipv6 = false;
    std::memcpy(addr, &in->sin_addr, 4);
    *port = ntohs(in->sin_port);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    *ipv6 = true;
    std::memcpy(addr, &in6->sin6_addr, 16);
    *port = ntohs(in6->sin6_port);
    return true;
  }
  return false;
}

std::string addressText(const net::ProxyHeader& h) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(h.ipv6 ? AF_INET6 : AF_INET, h.source, buf, sizeof(buf));
  return buf;
}

}  // namespace

ClientAddresses::ClientAddresses(int fd, const sockaddr* peer) : fd_(fd) {
  if (takeAddress(peer, &h_.ipv6, h_.source, &h_.source_port))
    ip_ = addressText(h_);
  else
    h_.local = true;  // not an IP peer: no address a header could state
}

void ClientAddresses::replace(const net::ProxyHeader& header) {
  h_ = header;
  local_known_ = true;  // the header names the address the client connected to
  ip_ = addressText(h_);
}

void ClientAddresses::learnLocal() {
  local_known_ = true;
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  bool ipv6 = false;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
      !takeAddress(reinterpret_cast<const sockaddr*>(&local), &ipv6, h_.dest, &h_.dest_port) ||
      ipv6 != h_.ipv6)
    h_.local = true;  // the ends cannot be stated: UNKNOWN / LOCAL, as the spec allows
}

void ClientAddresses::encodeProxyHeader(int version, std::string* out) {
  if (!local_known_) learnLocal();
  net::encodeProxyHeader(h_, version, out);
}

}  // namespace lb::stream
