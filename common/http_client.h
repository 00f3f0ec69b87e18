// A blocking HTTP/1.1 client for the control side: lbctl, and lbcontrol's calls to the proxies'
// admin API and to instances' health endpoints. Each call runs its own private libevent loop
// (evhttp's client, which handles framing, chunking and timeouts), so it may be called from any
// thread and shares nothing. Never use it on the data path.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lb::common {

struct HttpResult {
  int status = 0;  // 0 when there was no HTTP answer
  std::string body;
  std::string error;  // transport failure ("connection refused", "timed out"), "" when answered
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  bool answered() const { return error.empty(); }
  // The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

struct HttpCall {
  std::string address;         // "IP:PORT" or "[v6]:PORT"
  std::string method = "GET";  // GET, HEAD, POST, PUT, DELETE or PATCH
  std::string target = "/";    // path and query
  std::string body;            // sent as application/json when not empty
  std::string bearer;          // Authorization: Bearer ...; "" = none
  std::chrono::milliseconds timeout{5000};
};

HttpResult httpCall(const HttpCall& call);

}  // namespace lb::common
