#include "config/values.h"

#include <charconv>

namespace lb::config {

const char* balancerName(BalancerKind kind) {
  switch (kind) {
    case BalancerKind::kRoundRobin:
      return "round_robin";
    case BalancerKind::kLeastRequest:
      return "least_request";
    case BalancerKind::kRandom:
      return "random";
    case BalancerKind::kRingHash:
      return "ring_hash";
  }
  return "?";
}

static std::optional<uint64_t> parseUnsigned(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::optional<Duration> parseDuration(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  auto number = parseUnsigned(text.substr(0, i));
  if (!number) return std::nullopt;
  std::string_view unit = text.substr(i);
  uint64_t ms_per_unit;
  if (unit == "ms")
    ms_per_unit = 1;
  else if (unit == "s")
    ms_per_unit = 1000;
  else if (unit == "m")
    ms_per_unit = 60 * 1000;
  else if (unit == "h")
    ms_per_unit = 3600 * 1000;
  else
    return std::nullopt;
  if (*number > (uint64_t{1} << 40) / ms_per_unit) return std::nullopt;
  return Duration(static_cast<int64_t>(*number * ms_per_unit));
}

std::optional<uint64_t> parseSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  auto number = parseUnsigned(text.substr(0, i));
  if (!number) return std::nullopt;
  std::string_view unit = text.substr(i);
  uint64_t scale;
  if (unit.empty())
    scale = 1;
  else if (unit == "KiB")
    scale = uint64_t{1} << 10;
  else if (unit == "MiB")
    scale = uint64_t{1} << 20;
  else if (unit == "GiB")
    scale = uint64_t{1} << 30;
  else
    return std::nullopt;
  if (*number > (uint64_t{1} << 50) / scale) return std::nullopt;
  return *number * scale;
}

}  // namespace lb::config
