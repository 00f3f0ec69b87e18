// lbcontrol's REST API (docs/control-api.md): JSON over HTTP/1.1 with libevent's evhttp on the
// main thread. Every call is posted to the engine's loop and answered when the engine has
// handled it. Authentication as for lbproxy's admin API, with named tokens: the name goes to
// the audit log.
// Owner: the main thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

struct evhttp;
struct evhttp_request;

namespace lb::common {
class EventLoop;
}

namespace lb::controlplane {

class Engine;

// "NAME TOKEN" lines ('#' comments and blank lines skipped). False + *error when unreadable or
// a token is shorter than 16 characters.
bool readTokens(const std::string& path, std::vector<std::pair<std::string, std::string>>* out,
                std::string* error);

class ApiServer {
 public:
  ApiServer(common::EventLoop& main_loop, common::EventLoop& engine_loop, Engine& engine,
            std::vector<std::pair<std::string, std::string>> tokens);
  ~ApiServer();
  bool start(const std::string& address, std::string* error);
  uint16_t port() const { return port_; }

 private:
  static void onRequest(evhttp_request* req, void* arg) noexcept;
  void handle(evhttp_request* req);

  common::EventLoop& main_loop_;
  common::EventLoop& engine_loop_;
  Engine& engine_;
  std::vector<std::pair<std::string, std::string>> tokens_;  // name, token
  evhttp* http_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace lb::controlplane
