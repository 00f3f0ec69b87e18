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

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

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
  // TLS from here on (blocking handshake, no certificate verification): `sni` empty sends no
  // server name; `alpn` is the offer in order (empty: no ALPN); `resume` a session from an
  // earlier client's session(). False when the handshake fails.
  bool startTls(const std::string& sni, const std::vector<std::string>& alpn = {"http/1.1"},
                ssl_session_st* resume = nullptr);
  std::string tlsVersion() const;      // "TLSv1.3"
  std::string peerCommonName() const;  // the server certificate's CN
  std::string alpnSelected() const;    // "" when the server chose none
  bool sessionReused() const;
  ssl_session_st* session() const;  // a new reference; free with SSL_SESSION_free
  bool send(std::string_view bytes);
  // Reads one response. nullopt on timeout or when the connection closed before a head.
  std::optional<ClientResponse> read(bool request_was_head = false,
                                     std::chrono::milliseconds timeout = kDefaultTimeout,
                                     const BodySink& sink = nullptr);
  // True when the peer closes (EOF or reset) within the timeout with nothing more to read.
  bool waitClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  // Raw bytes after a head (a tunnel's): exactly n, or fewer when the peer closed or the
  // timeout passed first.
  std::string readBytes(size_t n, std::chrono::milliseconds timeout = kDefaultTimeout);
  // Everything until the peer closes (or the timeout).
  std::string readUntilClose(std::chrono::milliseconds timeout = kDefaultTimeout);
  void shutdownWrite();
  void setReceiveBuffer(int bytes);
  int fd() const { return fd_; }

 private:
  // Appends more bytes into buf_; false on EOF, error or deadline.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  ssl_ctx_st* ssl_ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  std::string buf_;
  bool eof_ = false;
};

// One request, one response, on a fresh connection.
std::optional<ClientResponse> httpGet(uint16_t port, std::string_view path,
                                      std::string_view host = "test.local",
                                      std::string_view extra_headers = "");

}  // namespace lb::test
