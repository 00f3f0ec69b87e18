#include "tests/support/test_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "tests/support/test_util.h"

namespace lb::test {

namespace {

int listenLoopback(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 512) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

// Reads from fd into buf until `pred(buf)` or EOF/error. Returns false on EOF/error.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  bool fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    received_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  std::string& buf() { return buf_; }
  std::string takeReceived() { return std::exchange(received_, {}); }

 private:
  int fd_;
  std::string buf_;
  std::string received_;
};

}  // namespace

const std::string* BackendRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return &v;
  return nullptr;
}

size_t BackendRequest::headerCount(std::string_view name) const {
  return static_cast<size_t>(std::count_if(headers.begin(), headers.end(),
                                           [&](const auto& h) { return iequals(h.first, name); }));
}

bool writePatternBody(BackendConnection& conn, uint64_t size) {
  std::string block(256 * 1024, '\0');
  for (uint64_t sent = 0; sent < size; sent += block.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), size - sent));
    for (size_t i = 0; i < n; ++i) block[i] = patternByte(sent + i);
    if (!conn.write(std::string_view(block.data(), n))) return false;
  }
  return true;
}

bool BackendConnection::write(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return fd_ >= 0;
}

void BackendConnection::close() {
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
    fd_ = -1;  // the serving thread closes the descriptor
  }
}

BackendHandler answers(const std::string& body) {
  return [body](const BackendRequest&, BackendConnection& conn) {
    conn.write(simpleResponse(200, body));
  };
}

std::string simpleResponse(int status, std::string_view body, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) +
                    " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out.append(extra_headers);
  out.append("\r\n");
  out.append(body);
  return out;
}

TestBackend::TestBackend(BackendHandler handler, std::string name)
    : handler_(std::move(handler)), name_(std::move(name)) {
  listen_fd_ = listenLoopback(&port_);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

TestBackend::~TestBackend() { stop(); }

void TestBackend::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
}

size_t TestBackend::openConnections() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_fds_.size();
}

size_t TestBackend::requestCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

std::vector<BackendRequest> TestBackend::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::string TestBackend::rawBytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return raw_;
}

void TestBackend::acceptLoop() {
  for (;;) {
    pollfd p{listen_fd_, POLLIN, 0};
    ::poll(&p, 1, 100);
    if (stopping_) return;
    if (!(p.revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int index = ++connections_;
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd, index] { serve(fd, index); });
  }
}

void TestBackend::serve(int fd, int index) {
  Reader reader(fd);
  BackendConnection conn(fd);
  int on_conn = 0;
  auto record_raw = [&] {
    std::string got = reader.takeReceived();
    std::lock_guard<std::mutex> lock(mu_);
    raw_ += got;
  };
  for (;;) {
    // Head.
    size_t end;
    while ((end = reader.buf().find("\r\n\r\n")) == std::string::npos)
      if (!reader.fill()) goto done;
    {
      BackendRequest req;
      req.connection = index;
      req.index_on_connection = ++on_conn;
      req.raw_head = reader.buf().substr(0, end + 4);
      reader.buf().erase(0, end + 4);
      std::string_view head = req.raw_head;
      size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
      req.method = std::string(line.substr(0, sp1));
      req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
      req.version = std::string(line.substr(sp2 + 1));
      head.remove_prefix(eol + 2);
      while (head.size() > 2) {
        eol = head.find("\r\n");
        std::string_view field = head.substr(0, eol);
        size_t colon = field.find(':');
        std::string_view value = field.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        req.headers.emplace_back(std::string(field.substr(0, colon)), std::string(value));
        head.remove_prefix(eol + 2);
      }
      // Body, de-framed; large bodies are counted and pattern-checked, not kept.
      auto take = [&](std::string_view data) {
        for (size_t i = 0; i < data.size(); ++i)
          if (data[i] != patternByte(req.body_bytes + i)) {
            req.body_pattern_ok = false;
            break;
          }
        if (req.body.size() < TestBackend::kMaxKeptBody)
          req.body.append(data.substr(0, TestBackend::kMaxKeptBody - req.body.size()));
        req.body_bytes += data.size();
      };
      if (long stall = body_stall_ms_.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(stall));
      const std::string* te = req.header("Transfer-Encoding");
      const std::string* cl = req.header("Content-Length");
      if (te && te->size() >= 7 && iequals(te->substr(te->size() - 7), "chunked")) {
        req.chunked = true;
        for (;;) {
          size_t le;
          while ((le = reader.buf().find("\r\n")) == std::string::npos)
            if (!reader.fill()) goto done;
          uint64_t size = std::stoull(reader.buf().substr(0, le), nullptr, 16);
          reader.buf().erase(0, le + 2);
          if (size == 0) {
            while (reader.buf().size() < 2)
              if (!reader.fill()) goto done;
            reader.buf().erase(0, 2);  // final CRLF (the proxy sends no trailers)
            break;
          }
          while (size > 0) {
            if (reader.buf().empty() && !reader.fill()) goto done;
            size_t n = std::min<uint64_t>(size, reader.buf().size());
            take(std::string_view(reader.buf()).substr(0, n));
            reader.buf().erase(0, n);
            size -= n;
          }
          while (reader.buf().size() < 2)
            if (!reader.fill()) goto done;
          reader.buf().erase(0, 2);
        }
      } else if (cl) {
        uint64_t remaining = std::stoull(*cl);
        while (remaining > 0) {
          if (reader.buf().empty() && !reader.fill()) goto done;
          size_t n = std::min<uint64_t>(remaining, reader.buf().size());
          take(std::string_view(reader.buf()).substr(0, n));
          reader.buf().erase(0, n);
          remaining -= n;
        }
      }
      record_raw();
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      handler_(req, conn);
      if (conn.closed()) break;
      const std::string* connection = req.header("Connection");
      if (connection && iequals(*connection, "close")) break;
    }
  }
done:
  record_raw();
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  }
  ::close(fd);
}

uint16_t refusedPort() {
  uint16_t port = 0;
  int fd = listenLoopback(&port);
  ::close(fd);
  return port;
}

}  // namespace lb::test
