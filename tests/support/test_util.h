// Small helpers shared by the test support code and the integration tests.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string_view>
#include <thread>

namespace lb::test {

// ASCII case-insensitive comparison (the support code keeps its own, independent of the
// proxy's codec).
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Polls `done` every 10 ms until it holds or `timeout` passes; returns its last value.
template <typename Predicate>
bool waitUntil(Predicate done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace lb::test
