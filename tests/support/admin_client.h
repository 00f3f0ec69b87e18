// Calls lbproxy's and lbcontrol's admin APIs from integration tests through the one admin
// client the programs use (client/admin_client.h), by port on 127.0.0.1.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "client/admin_client.h"

namespace lb::test {

using AdminResponse = client::Reply;  // status, body (null unless JSON), text, www_authenticate

class AdminClient {
 public:
  explicit AdminClient(uint16_t port, std::string token = "")
      : client_("127.0.0.1:" + std::to_string(port), std::move(token),
                std::chrono::milliseconds(20000)) {}
  // `body` is sent as it is, JSON or not.
  AdminResponse call(const std::string& method, const std::string& path,
                     const std::string& body = "") const {
    return client_.callRaw(method, path, body);
  }
  AdminResponse get(const std::string& path) const { return client_.get(path); }
  // GET /v1/clusters/{cluster}/hosts/{id} body, or null.
  nlohmann::json host(const std::string& cluster, const std::string& id) const {
    AdminResponse r = client_.host(cluster, id);
    return r.status == 200 ? r.body : nlohmann::json();
  }

 private:
  client::AdminClient client_;
};

}  // namespace lb::test
