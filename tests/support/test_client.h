// A blocking HTTP/1.1 client for integration tests: sends raw bytes, reads responses with
// its own small parser (independent of the proxy's), with a deadline on every read.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lb::test {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // empty when a body sink was given
  uint64_t body_bytes = 0;
  bool chunked = false;
  bool complete = false;  // the body ended by its framing (or by close when unframed)

  const std::string* header(std::string_view name) const;
};

// Receives body bytes as they arrive (for transfers too large to keep).
using BodySink = std::function<void(std::string_view)>;

class TestClient {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{10000};

  explicit TestClient(uint16_t port);  // connects to 127.0.0.1:port
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes);
  // Reads one response. nullopt on timeout or when the connection closed before a head.
  std::optional<ClientResponse> read(bool request_was_head = false,
                                     std::chrono::milliseconds timeout = kDefaultTimeout,
                                     const BodySink& sink = nullptr);
  // True when the peer closes (EOF or reset) within the timeout with nothing more to read.
  bool waitClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Everything until the peer closes (or the timeout).
  std::string readUntilClose(std::chrono::milliseconds timeout = kDefaultTimeout);
  void shutdownWrite();
  void setReceiveBuffer(int bytes);
  int fd() const { return fd_; }

 private:
  // Appends more bytes into buf_; false on EOF, error or deadline.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// One request, one response, on a fresh connection.
std::optional<ClientResponse> httpGet(uint16_t port, std::string_view path,
                                      std::string_view host = "test.local",
                                      std::string_view extra_headers = "");

}  // namespace lb::test
