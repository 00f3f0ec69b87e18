// An upstream server for integration tests: listens on 127.0.0.1 (ephemeral port), one
// thread per connection, blocking sockets. It parses what the proxy forwards on its own
// (independent of the proxy's codec), records it, and lets each test script the response.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace lb::test {

struct BackendRequest {
  std::string method;
  std::string target;
  std::string version;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string raw_head;         // exactly as received
  std::string body;             // first kMaxKeptBody bytes of the de-framed body
  uint64_t body_bytes = 0;      // whole de-framed body size
  bool body_pattern_ok = true;  // body byte i == patternByte(i), for large transfers
  bool chunked = false;
  int connection = 0;  // index of the backend connection it came on (1-based)
  int index_on_connection = 0;

  const std::string* header(std::string_view name) const;
  size_t headerCount(std::string_view name) const;
};

inline char patternByte(uint64_t i) { return static_cast<char>('a' + i % 23); }

class BackendConnection;
// Writes `size` pattern bytes (byte i == patternByte(i)) in 256 KiB blocks; false when the
// peer went away.
bool writePatternBody(BackendConnection& conn, uint64_t size);

// One accepted connection, handed to the handler. Writes block.
class BackendConnection {
 public:
  explicit BackendConnection(int fd) : fd_(fd) {}
  bool write(std::string_view bytes);
  void close();  // closes now (the handler's "die" action)
  bool closed() const { return fd_ < 0; }
  int fd() const { return fd_; }

 private:
  int fd_;
};

using BackendHandler = std::function<void(const BackendRequest&, BackendConnection&)>;

// "HTTP/1.1 <status> X\r\nContent-Length: ..\r\n<extra>\r\n<body>".
std::string simpleResponse(int status, std::string_view body, std::string_view extra_headers = "");

// A handler answering 200 with `body` to every request.
BackendHandler answers(const std::string& body);

class TestBackend {
 public:
  static constexpr size_t kMaxKeptBody = 1 << 20;

  explicit TestBackend(BackendHandler handler, std::string name = "backend");
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& name() const { return name_; }
  int connections() const { return connections_.load(); }  // accepted so far
  size_t openConnections();
  size_t requestCount();
  std::vector<BackendRequest> requests();
  std::string rawBytes();  // everything received on every connection, in arrival order
  void stop();
  // The backend sleeps this long after each request head before reading the body: a stalled
  // backend, for backpressure tests.
  void setBodyStall(std::chrono::milliseconds stall) { body_stall_ms_ = stall.count(); }

 private:
  void acceptLoop();
  void serve(int fd, int index);

  BackendHandler handler_;
  std::string name_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<long> body_stall_ms_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<int> open_fds_;
  std::vector<BackendRequest> requests_;
  std::string raw_;
};

// A port on 127.0.0.1 that refuses connections (bound once, then closed).
uint16_t refusedPort();

}  // namespace lb::test
