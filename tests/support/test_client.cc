#include "tests/support/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "tests/support/test_util.h"

namespace lb::test {

const std::string* ClientResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return &v;
  return nullptr;
}

TestClient::TestClient(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

TestClient::~TestClient() {
  // Marked as shut down so OpenSSL keeps the session resumable for later clients.
  if (ssl_) SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  if (ssl_) SSL_free(ssl_);
  if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool TestClient::startTls(const std::string& sni, const std::vector<std::string>& alpn,
                          SSL_SESSION* resume) {
  if (fd_ < 0) return false;
  ssl_ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_NONE, nullptr);
  ssl_ = SSL_new(ssl_ctx_);
  SSL_set_fd(ssl_, fd_);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl_, sni.c_str());
  std::string wire;
  for (const auto& p : alpn) wire += static_cast<char>(p.size()) + p;
  if (!wire.empty())
    SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
  if (resume) SSL_set_session(ssl_, resume);
  timeval tv{10, 0};  // a handshake that hangs fails the test instead of hanging it
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  bool ok = SSL_connect(ssl_) == 1;
  ERR_clear_error();
  return ok;
}

std::string TestClient::tlsVersion() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

std::string TestClient::peerCommonName() const {
  if (!ssl_) return "";
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return "";
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  X509_free(cert);
  return cn;
}

std::string TestClient::alpnSelected() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  if (ssl_) SSL_get0_alpn_selected(ssl_, &p, &len);
  return std::string(reinterpret_cast<const char*>(p), p ? len : 0);
}

bool TestClient::sessionReused() const { return ssl_ && SSL_session_reused(ssl_) == 1; }

SSL_SESSION* TestClient::session() const { return ssl_ ? SSL_get1_session(ssl_) : nullptr; }

bool TestClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    if (ssl_) {
      size_t written = 0;
      if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written) != 1) {
        ERR_clear_error();
        return false;
      }
      bytes.remove_prefix(written);
      continue;
    }
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void TestClient::shutdownWrite() {
  if (ssl_) SSL_shutdown(ssl_);
  ::shutdown(fd_, SHUT_WR);
}

void TestClient::setReceiveBuffer(int bytes) {
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

bool TestClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_ || fd_ < 0) return false;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  char tmp[65536];
  ssize_t n;
  if (ssl_) {
    // Bounded by the deadline even when a record arrives in pieces.
    timeval tv{static_cast<time_t>(left.count() / 1000),
               static_cast<suseconds_t>(left.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t got = 0;
    n = SSL_read_ex(ssl_, tmp, sizeof(tmp), &got) == 1 ? static_cast<ssize_t>(got) : -1;
    if (n < 0) {
      int err = SSL_get_error(ssl_, 0);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ) return false;  // timed out
    }
  } else {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    n = ::recv(fd_, tmp, sizeof(tmp), 0);
  }
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

std::optional<ClientResponse> TestClient::read(bool request_was_head,
                                               std::chrono::milliseconds timeout,
                                               const BodySink& sink) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  ClientResponse resp;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline)) return std::nullopt;
  std::string head = buf_.substr(0, end + 2);
  buf_.erase(0, end + 4);
  size_t eol = head.find("\r\n");
  std::string status_line = head.substr(0, eol);
  if (status_line.size() < 12) return std::nullopt;
  resp.status = std::stoi(status_line.substr(9, 3));
  size_t pos = eol + 2;
  while (pos < head.size()) {
    eol = head.find("\r\n", pos);
    std::string field = head.substr(pos, eol - pos);
    size_t colon = field.find(':');
    std::string value = field.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    resp.headers.emplace_back(field.substr(0, colon), value);
    pos = eol + 2;
  }
  auto take = [&](std::string_view data) {
    resp.body_bytes += data.size();
    if (sink)
      sink(data);
    else
      resp.body.append(data);
  };
  if (resp.status == 100 || resp.status == 101) {
    resp.complete = true;
    return resp;  // interim, or a switch: what follows is not this response's body
  }
  const std::string* te = resp.header("Transfer-Encoding");
  const std::string* cl = resp.header("Content-Length");
  if (request_was_head || resp.status == 204 || resp.status == 304) {
    resp.complete = true;
  } else if (te) {
    resp.chunked = true;
    for (;;) {
      size_t le;
      while ((le = buf_.find("\r\n")) == std::string::npos)
        if (!fill(deadline)) return resp;
      uint64_t size = std::stoull(buf_.substr(0, le), nullptr, 16);
      buf_.erase(0, le + 2);
      if (size == 0) {
        while ((le = buf_.find("\r\n")) != 0) {  // trailers until the empty line
          if (le != std::string::npos) {
            buf_.erase(0, le + 2);
            continue;
          }
          if (!fill(deadline)) return resp;
        }
        buf_.erase(0, 2);
        resp.complete = true;
        break;
      }
      while (size > 0) {
        if (buf_.empty() && !fill(deadline)) return resp;
        size_t n = std::min<uint64_t>(size, buf_.size());
        take(std::string_view(buf_).substr(0, n));
        buf_.erase(0, n);
        size -= n;
      }
      while (buf_.size() < 2)
        if (!fill(deadline)) return resp;
      buf_.erase(0, 2);
    }
  } else if (cl) {
    uint64_t remaining = std::stoull(*cl);
    while (remaining > 0) {
      if (buf_.empty() && !fill(deadline)) return resp;
      size_t n = std::min<uint64_t>(remaining, buf_.size());
      take(std::string_view(buf_).substr(0, n));
      buf_.erase(0, n);
      remaining -= n;
    }
    resp.complete = true;
  } else {
    for (;;) {
      take(buf_);
      buf_.clear();
      if (!fill(deadline)) break;
    }
    resp.complete = eof_;
  }
  return resp;
}

bool TestClient::waitClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill(deadline)) {
  }
  return eof_;
}

std::string TestClient::readBytes(size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buf_.size() < n && fill(deadline)) {
  }
  std::string out = buf_.substr(0, n);
  buf_.erase(0, out.size());
  return out;
}

std::string TestClient::readUntilClose(std::chrono::milliseconds timeout) {
  waitClosed(timeout);
  return std::exchange(buf_, {});
}

std::optional<ClientResponse> httpGet(uint16_t port, std::string_view path, std::string_view host,
                                      std::string_view extra_headers) {
  TestClient c(port);
  if (!c.connected()) return std::nullopt;
  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + std::string(host) +
                    "\r\n" + std::string(extra_headers) + "\r\n";
  if (!c.send(req)) return std::nullopt;
  return c.read();
}

}  // namespace lb::test
