// idle-conns: opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each, reads
// its response, then holds them all open until stdin closes. Prints "ready N" when every
// connection has had its response, so the caller can measure the proxy's memory per idle
// connection. Used by bench/load/run.sh.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: idle-conns PORT N\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int n = std::atoi(argv[2]);
  rlimit rl{static_cast<rlim_t>(n + 64), static_cast<rlim_t>(n + 64)};
  setrlimit(RLIMIT_NOFILE, &rl);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string req = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      std::perror("connect");
      return 1;
    }
    if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return 1;
    // Read until the end of a response head plus a small body: enough for the benchmark
    // backends' fixed 14-byte answer.
    char buf[4096];
    std::string got;
    while (got.find("\r\n\r\n") == std::string::npos ||
           got.size() < got.find("\r\n\r\n") + 4 + 14) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5000) <= 0) {
        std::fprintf(stderr, "connection %d: no response\n", i);
        return 1;
      }
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r <= 0) {
        std::fprintf(stderr, "connection %d closed\n", i);
        return 1;
      }
      got.append(buf, static_cast<size_t>(r));
    }
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
