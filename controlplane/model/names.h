// Enum <-> name tables for the model's wire names (phases, rollout statuses and kinds).
// Pure functions, any thread.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace lb::controlplane {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, const char*>, N>;

template <typename E, size_t N>
const char* nameIn(const NameTable<E, N>& names, E value) {
  for (const auto& [v, name] : names)
    if (v == value) return name;
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> parseIn(const NameTable<E, N>& names, std::string_view text) {
  for (const auto& [v, name] : names)
    if (text == name) return v;
  return std::nullopt;
}

}  // namespace lb::controlplane
