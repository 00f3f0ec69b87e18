// ws-bench: the WebSocket side of the load benchmark (bench/load/ws.sh).
//
//   ws-bench server PORT            echo server on 127.0.0.1:PORT: answers the opening
//                                   handshake (RFC 6455 4.2.2), then sends back every byte
//   ws-bench client PORT CONNS SECS CONNS WebSockets through the proxy, each sending a 64-byte
//                                   text message and waiting for its echo, for SECS seconds;
//                                   prints "messages N seconds S"
//   ws-bench idle PORT N            opens N WebSockets, prints "ready N", holds them open
//                                   until stdin closes (the proxy's memory per idle tunnel)
//
// One thread, poll(), non-blocking sockets. The echo is raw (the server sends the client's
// masked frames back), which proxies do not look at: they tunnel bytes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

void raiseFdLimit(int n) {
  rlimit rl{static_cast<rlim_t>(n + 64), static_cast<rlim_t>(n + 64)};
  setrlimit(RLIMIT_NOFILE, &rl);
}

std::string acceptFor(const std::string& key) {
  const std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[64];
  const int n = EVP_EncodeBlock(out, digest, sizeof(digest));
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

std::string headerValue(const std::string& head, const char* name) {
  const size_t len = std::strlen(name);
  for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
    if (strncasecmp(head.c_str() + at + 2, name, len) == 0 && head[at + 2 + len] == ':') {
      size_t start = head.find_first_not_of(' ', at + 3 + len);
      return head.substr(start, head.find("\r\n", start) - start);
    }
  }
  return {};
}

int server(int port) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = loopback(port);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(lfd, 4096) != 0) {
    std::perror("ws-bench server");
    return 1;
  }
  raiseFdLimit(20000);
  struct Conn {
    std::string head;  // until the handshake is done
    bool open = false;
  };
  std::vector<pollfd> fds{{lfd, POLLIN, 0}};
  std::vector<Conn> conns(1);
  char buf[65536];
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      int fd;
      while ((fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fds.push_back({fd, POLLIN, 0});
        conns.emplace_back();
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = recv(fds[i].fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (n < 0 && errno == EAGAIN) continue;
        close(fds[i].fd);
        fds[i] = fds.back();
        fds.pop_back();
        conns[i] = conns.back();
        conns.pop_back();
        --i;
        continue;
      }
      Conn& c = conns[i];
      if (c.open) {
        // Echo. The messages are small and the peer reads them: a short write is rare and
        // only loses the benchmark's own bytes.
        if (send(fds[i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) < 0) continue;
        continue;
      }
      c.head.append(buf, static_cast<size_t>(n));
      if (c.head.find("\r\n\r\n") == std::string::npos) continue;
      const std::string reply =
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " +
          acceptFor(headerValue(c.head, "Sec-WebSocket-Key")) + "\r\n\r\n";
      send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      c.open = true;
      c.head.clear();
    }
  }
}

// Opens one WebSocket through the proxy; -1 when the handshake fails.
int openWebSocket(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = loopback(port);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const std::string req =
      "GET /ws HTTP/1.1\r\nHost: bench\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return -1;
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return -1;
    head.append(buf, static_cast<size_t>(n));
  }
  if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
    std::fprintf(stderr, "ws-bench: no 101: %s\n", head.substr(0, head.find("\r\n")).c_str());
    return -1;
  }
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

// A masked 64-byte text frame (RFC 6455 5.2): what a browser sends.
std::string textFrame() {
  std::string f = {static_cast<char>(0x81), static_cast<char>(0x80 | 64), 1, 2, 3, 4};
  for (int i = 0; i < 64; ++i) f.push_back(static_cast<char>('a' ^ (i % 4 + 1)));
  return f;
}

int client(int port, int conns, int seconds) {
  raiseFdLimit(conns);
  const std::string frame = textFrame();
  std::vector<pollfd> fds;
  std::vector<size_t> pending;  // echo bytes still expected per connection
  for (int i = 0; i < conns; ++i) {
    int fd = openWebSocket(port);
    if (fd < 0) return 1;
    fds.push_back({fd, POLLIN, 0});
    pending.push_back(frame.size());
    if (write(fd, frame.data(), frame.size()) < 0) return 1;
  }
  uint64_t messages = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  char buf[65536];
  while (std::chrono::steady_clock::now() < end) {
    if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        std::fprintf(stderr, "ws-bench: a tunnel closed\n");
        return 1;
      }
      size_t got = static_cast<size_t>(n);
      while (got >= pending[i]) {  // a whole echo: the next message
        got -= pending[i];
        ++messages;
        pending[i] = frame.size();
        if (write(fds[i].fd, frame.data(), frame.size()) < 0) return 1;
      }
      pending[i] -= got;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("messages %llu seconds %.3f\n", static_cast<unsigned long long>(messages), secs);
  return 0;
}

int idle(int port, int n) {
  raiseFdLimit(n);
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = openWebSocket(port);
    if (fd < 0) return 1;
    fds.push_back(fd);
  }
  std::printf("ready %d\n", n);
  std::fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  for (int fd : fds) close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 2 ? argv[1] : "";
  if (mode == "server" && argc == 3) return server(std::atoi(argv[2]));
  if (mode == "client" && argc == 5)
    return client(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  if (mode == "idle" && argc == 4) return idle(std::atoi(argv[2]), std::atoi(argv[3]));
  std::fprintf(stderr, "usage: ws-bench server PORT | client PORT CONNS SECS | idle PORT N\n");
  return 2;
}
