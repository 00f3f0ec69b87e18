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

}  // namespace lb::common
