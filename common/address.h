// IP-literal socket addresses as the configs and APIs write them. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lb::common {

struct HostPort {
  std::string host;  // IP literal without brackets
  uint16_t port = 0;
  bool ipv6 = false;
};

// "127.0.0.1:8080", "[::1]:8080". Only IP literals: no DNS on the data path.
// Port 0 is allowed when allow_zero_port (listeners in tests bind an ephemeral port).
std::optional<HostPort> parseHostPort(std::string_view text, bool allow_zero_port);

// True for "127.x.x.x:port" and "[::1]:port".
bool isLoopbackAddress(std::string_view address);

// An IP network: "10.0.0.0/8", "2001:db8::/32", or one address ("192.0.2.7" is /32).
struct IpNetwork {
  bool ipv6 = false;
  uint8_t bytes[16] = {};  // the first 4 for IPv4; bits past the prefix are zero
  uint8_t prefix = 0;
};
std::optional<IpNetwork> parseIpNetwork(std::string_view text);
// Whether an address (4 or 16 bytes, as in sockaddr_in/sockaddr_in6) is in the network. An
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as its IPv4 address.
bool networkContains(const IpNetwork& network, const uint8_t* address, bool ipv6);

}  // namespace lb::common
