// Parsing of scalar values shared by the loader and the programs: durations, sizes, addresses.
// Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/model.h"

namespace lb::config {

// "250ms", "2s", "5m", "1h", "0s". Bare numbers are rejected: a unit is required.
std::optional<Duration> parseDuration(std::string_view text);

// "8192", "8KiB", "1MiB", "1GiB".
std::optional<uint64_t> parseSize(std::string_view text);

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

}  // namespace lb::config
