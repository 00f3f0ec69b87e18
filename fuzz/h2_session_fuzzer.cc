// libFuzzer target: an HTTP/2 server session (our H2Session over libnghttp2, on a worker
// context) fed raw frames. Each input is what a client sends after the connection preface, on
// one end of a socketpair; a cleartext listener detects the preface and hands the connection to
// H2Session, which routes every stream (to a cluster without hosts: a 503 each, so no socket
// leaves the process). The loop runs until the session closed on its own or stopped doing
// anything; the clock moves so timeouts fire too. The input is never followed by a FIN: like
// nginx, the session takes a client's EOF for a closed connection and drops what it queued.
//
// Checks beyond "no crash, no leak, no UB": what the session wrote is HTTP/2 — it starts with
// the server's SETTINGS on stream 0, and once the session closed on its own, its output is a
// whole number of frames, none longer than the 16,384 bytes the client allowed (the session
// never raises its own frame size).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/clock.h"
#include "config/loader.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stream/downstream_session.h"
#include "proxy/stream/worker_context.h"

namespace {

using namespace lb;

#define CHECK(cond)            \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct World {
  common::ManualClock clock;
  snapshot::HostRegistry registry;
  std::shared_ptr<const snapshot::Snapshot> snapshot;
  std::unique_ptr<stream::WorkerContext> ctx;

  World() {
    const std::string yaml =
        "listeners:\n"
        "  - name: public\n"
        "    listen: 127.0.0.1:0\n"
        "    http2: { cleartext: true, max_concurrent_streams: 16 }\n"
        "    routes:\n"
        "      - { match: { path_prefix: / }, cluster: app }\n"
        "clusters:\n"
        "  - name: app\n"
        "    hosts: []\n"
        "access_log: { enabled: false }\n";
    config::LoadResult loaded = config::loadProxyConfigString(yaml, "fuzz.yaml");
    CHECK(loaded.ok());
    std::string error;
    snapshot = snapshot::buildSnapshot(loaded.config, 1, registry, &error);
    CHECK(snapshot != nullptr);
    ctx = std::make_unique<stream::WorkerContext>(0, stream::WorkerContext::Hooks{}, snapshot,
                                                  &clock);
  }

  void turn() { event_base_loop(ctx->loop().base(), EVLOOP_NONBLOCK); }
};

World& world() {
  static World* w = new World();  // lives for the process, reachable: not a leak
  return *w;
}

void readAll(int fd, std::string* out) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    out->append(buf, static_cast<size_t>(n));
  }
}

// True when `bytes` is a whole number of frames of at most 16,384 bytes each.
bool wholeFrames(const std::string& bytes) {
  size_t at = 0;
  while (at + 9 <= bytes.size()) {
    const auto* h = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const size_t len = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
    if (len > 16384) return false;
    at += 9 + len;
  }
  return at == bytes.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return 0;  // the socket buffer holds it all at once
  World& w = world();
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  int sndbuf = 1 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(0xC0000207);  // 192.0.2.7
  auto* session =
      new stream::DownstreamSession(*w.ctx, 0, sv[1], reinterpret_cast<sockaddr*>(&peer));
  w.ctx->addSession(session);
  session->start();

  std::string input(kPreface, sizeof(kPreface) - 1);
  input.append(reinterpret_cast<const char*>(data), size);
  size_t written = 0;
  std::string output;
  // Turns until the session is gone, or 64 turns went by without output (and time moved).
  for (int idle = 0, turns = 0; w.ctx->openCount() > 0 && idle < 64 && turns < 4096; ++turns) {
    if (written < input.size()) {
      ssize_t n = ::write(sv[0], input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
    }
    w.turn();
    const size_t before = output.size();
    readAll(sv[0], &output);
    if (output.size() == before) {
      ++idle;
      w.clock.advance(std::chrono::seconds(5));  // request, idle and stream timeouts
      w.ctx->deadlines().expireDue();
    } else {
      idle = 0;
    }
  }
  const bool closed_itself = w.ctx->openCount() == 0;
  for (auto* s : w.ctx->openSessions()) s->forceClose();
  w.turn();  // the deferred deletes
  readAll(sv[0], &output);
  ::close(sv[0]);

  // The server's connection preface: a SETTINGS frame on stream 0 first.
  CHECK(output.size() >= 9);
  CHECK(output[3] == 0x4);
  CHECK((output[5] | output[6] | output[7] | output[8]) == 0);
  if (closed_itself) CHECK(wholeFrames(output));
  return 0;
}
