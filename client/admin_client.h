// The one client of the admin APIs (lbproxy's, docs/admin-api.md, and lbcontrol's,
// docs/control-api.md): lbctl, lbcontrol's proxy fleet and the integration tests all call
// through it. Blocking, one connection per call (common::httpCall); any thread, and an
// AdminClient is immutable, so one may be shared by threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace lb::client {

// One answer. `message` is for people; `status` and `body` are for programs.
struct Reply {
  int status = 0;       // 0: no answer (message says why)
  nlohmann::json body;  // the JSON answer; null when it was not JSON
  std::string text;     // the body as received (/metrics and other text)
  std::string message;  // the server's error.message, the transport error, or "HTTP <status>"
  std::string www_authenticate;
  bool ok() const { return status >= 200 && status < 300; }
  bool answered() const { return status != 0; }
};

class AdminClient {
 public:
  // `address` is IP:PORT or [v6]:PORT; `token` "" sends no Authorization header.
  AdminClient(std::string address, std::string token,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  // From "http://IP:PORT" (common::parseAdminUrl); nullopt for any other form.
  static std::optional<AdminClient> fromUrl(const std::string& url, std::string token,
                                            std::chrono::milliseconds timeout);

  const std::string& address() const { return address_; }

  // `body` is sent as JSON unless null.
  Reply call(const std::string& method, const std::string& target,
             const nlohmann::json& body = nullptr) const;
  // The body as given, even when it is not JSON (tests send broken JSON on purpose).
  Reply callRaw(const std::string& method, const std::string& target,
                const std::string& raw_body) const;
  Reply get(const std::string& target) const { return call("GET", target); }

  // lbproxy's cluster endpoints, names escaped (common::escapePathSegment).
  Reply cluster(const std::string& cluster) const;
  Reply host(const std::string& cluster, const std::string& id) const;
  Reply addHost(const std::string& cluster, const std::string& id, const std::string& address,
                const std::map<std::string, std::string>& labels, const std::string& state) const;
  Reply setHostState(const std::string& cluster, const std::string& id, const std::string& state,
                     std::optional<uint32_t> deadline_ms = std::nullopt) const;
  Reply removeHost(const std::string& cluster, const std::string& id, bool force = false) const;
  Reply stats(uint32_t window_s) const;

 private:
  std::string address_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

// "/v1/clusters/<cluster>/hosts/<id><suffix>" with both names escaped.
std::string hostPath(const std::string& cluster, const std::string& id,
                     const std::string& suffix = "");

}  // namespace lb::client
