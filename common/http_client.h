// A blocking HTTP/1.1 client for the control side: lbctl, and lbcontrol's calls to the proxies'
// admin API and to instances' health endpoints. Each call runs its own private libevent loop
// (evhttp's client, which handles framing, chunking and timeouts), so it may be called from any
// thread and shares nothing. Never use it on the data path.
#pragma once

#include <chrono>
#include <string>

namespace lb::common {

struct HttpResult {
  int status = 0;  // 0 when there was no HTTP answer
  std::string body;
  std::string error;  // transport failure ("connection refused", "timed out"), "" when answered
  bool answered() const { return error.empty(); }
};

struct HttpCall {
  std::string address;  // "IP:PORT" or "[v6]:PORT"
  std::string method = "GET";
  std::string target = "/";  // path and query
  std::string body;          // sent as application/json when not empty
  std::string bearer;        // Authorization: Bearer ...; "" = none
  std::chrono::milliseconds timeout{5000};
};

HttpResult httpCall(const HttpCall& call);

}  // namespace lb::common
