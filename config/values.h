// Parsing of scalar values shared by the loader and the programs: durations, sizes, addresses.
// Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/address.h"
#include "config/model.h"

namespace lb::config {

// "250ms", "2s", "5m", "1h", "0s". Bare numbers are rejected: a unit is required.
std::optional<Duration> parseDuration(std::string_view text);

// "8192", "8KiB", "1MiB", "1GiB".
std::optional<uint64_t> parseSize(std::string_view text);

// Addresses are parsed by common/address.h; the validators use them unqualified.
using common::HostPort;
using common::isLoopbackAddress;
using common::parseHostPort;

}  // namespace lb::config
