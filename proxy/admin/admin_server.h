// The admin REST API (docs/admin-api.md): JSON over HTTP/1.1 on its own listener, served by
// libevent's evhttp on the main thread's loop, never on a worker. Every request needs
// "Authorization: Bearer <token>" when a token is configured (compared in constant time,
// never logged). Handlers call the Controller, which answers asynchronously.
// Owner: the main thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct evhttp;
struct evhttp_request;

namespace lb::common {
class EventLoop;
}
namespace lb::control {
class Controller;
}

namespace lb::admin {

class AdminServer {
 public:
  AdminServer(common::EventLoop& loop, control::Controller& controller);
  ~AdminServer();
  // Binds "ip:port"; returns false with *error when it cannot.
  bool start(const std::string& address, std::string* error);
  uint16_t port() const { return port_; }
  void stop();

 private:
  static void onRequest(evhttp_request* req, void* arg) noexcept;
  void handle(evhttp_request* req);

  common::EventLoop& loop_;
  control::Controller& controller_;
  evhttp* http_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace lb::admin
