// Calls lbproxy's admin API from integration tests: one request per connection, JSON body
// parsed with nlohmann::json (independent of the proxy's own JSON code).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace lb::test {

struct AdminResponse {
  int status = 0;
  nlohmann::json body;  // null when the body is not JSON
  std::string text;
  std::string www_authenticate;
};

class AdminClient {
 public:
  explicit AdminClient(uint16_t port, std::string token = "")
      : port_(port), token_(std::move(token)) {}
  AdminResponse call(const std::string& method, const std::string& path,
                     const std::string& body = "") const;
  AdminResponse get(const std::string& path) const { return call("GET", path); }
  // GET /v1/clusters/{cluster}/hosts/{id} body, or null.
  nlohmann::json host(const std::string& cluster, const std::string& id) const;

 private:
  uint16_t port_;
  std::string token_;
};

}  // namespace lb::test
