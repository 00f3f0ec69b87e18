// The two client protocol connections driven in-process, as Proxygen's session tests drive
// theirs over a fake transport: the connection gets one end of a socketpair on a worker
// context with a ManualClock, the test speaks HTTP/1.1 or HTTP/2 (nghttp2's client) on the
// other end, and a real backend on loopback answers. Timeouts happen when the test moves the
// clock; the loop runs turn by turn until the test sees what it waits for.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <map>
#include <string_view>

#include "common/clock.h"
#include "config/loader.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stream/downstream_session.h"
#include "proxy/stream/worker_context.h"
#include "tests/support/test_backend.h"

namespace lb::stream {
namespace {

using namespace std::chrono_literals;
using test::BackendConnection;
using test::BackendRequest;
using test::TestBackend;

// A worker context with one h2c-capable listener routing /api to `backend`, and the client
// end of each connection the test opens.
class Harness {
 public:
  explicit Harness(const std::string& backend) {
    const std::string yaml =
        "listeners:\n"
        "  - name: public\n"
        "    listen: 127.0.0.1:0\n"
        "    request_headers_timeout: 1s\n"
        "    idle_timeout: 5s\n"
        "    http2: { cleartext: true }\n"
        "    routes:\n"
        "      - { match: { path_prefix: /api }, cluster: app, timeout: 2s }\n"
        "clusters:\n"
        "  - name: app\n"
        "    hosts: [{ id: b1, address: " +
        backend +
        " }]\n"
        "access_log: { enabled: false }\n";
    config::LoadResult loaded = config::loadProxyConfigString(yaml, "test.yaml");
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].toString());
    std::string error;
    snapshot_ = snapshot::buildSnapshot(loaded.config, 1, registry_, &error);
    EXPECT_TRUE(snapshot_) << error;
    ctx_ = std::make_unique<WorkerContext>(0, WorkerContext::Hooks{}, snapshot_, &clock_);
  }
  ~Harness() {
    for (auto* s : ctx_->openSessions()) s->forceClose();
    turn();  // the deferred deletes
    for (int fd : clients_) ::close(fd);
  }

  // A new client connection; returns the test's end (non-blocking).
  int connect() {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(0xC0000207);  // 192.0.2.7
    auto* session = new DownstreamSession(*ctx_, 0, sv[1], reinterpret_cast<sockaddr*>(&peer));
    ctx_->addSession(session);
    session->start();
    clients_.push_back(sv[0]);
    return sv[0];
  }

  // One turn of the worker's loop: the next event, or 5 ms without one (for the backend's
  // thread).
  void turn() {
    timeval slice{0, 5000};
    event_base_loopexit(ctx_->loop().base(), &slice);
    event_base_loop(ctx_->loop().base(), EVLOOP_ONCE);
  }
  // Turns until `done` (at most 2000 turns); `each` runs after every turn.
  bool runUntil(const std::function<bool()>& done, const std::function<void()>& each = {}) {
    for (int k = 0; k < 2000; ++k) {
      if (done()) return true;
      turn();
      if (each) each();
    }
    return done();
  }

  // Simulated time: the clock moves, and the deadlines that passed fire.
  void advance(std::chrono::milliseconds by) {
    clock_.advance(by);
    ctx_->deadlines().expireDue();
  }

  size_t openSessions() const { return ctx_->openCount(); }

 private:
  common::ManualClock clock_;
  snapshot::HostRegistry registry_;
  std::shared_ptr<const snapshot::Snapshot> snapshot_;
  std::unique_ptr<WorkerContext> ctx_;
  std::vector<int> clients_;
};

// What the client end has received so far; `closed` once the connection sent EOF.
struct Received {
  std::string bytes;
  bool closed = false;
  void read(int fd) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n > 0) {
        bytes.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) closed = true;
      return;
    }
  }
  size_t count(const std::string& what) const {
    size_t n = 0;
    for (size_t at = bytes.find(what); at != std::string::npos; at = bytes.find(what, at + 1)) ++n;
    return n;
  }
};

void sendAll(int fd, const std::string& bytes) {
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

// Echoes the target, so each response says which request it answers.
test::BackendHandler echo() {
  return [](const BackendRequest& req, BackendConnection& conn) {
    conn.write(test::simpleResponse(200, "for " + req.target));
  };
}

// A minimal HTTP/2 client on nghttp2 over the test's end of the connection.
class H2Client {
 public:
  struct Response {
    int status = 0;
    std::string body;
    bool closed = false;
  };

  explicit H2Client(int fd) : fd_(fd) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, onSend);
    nghttp2_session_callbacks_set_on_header_callback(cb, onHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, onData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, onClose);
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
    nghttp2_session_send(session_);
  }
  ~H2Client() { nghttp2_session_del(session_); }

  int32_t get(const std::string& path) {
    auto nv = [](const char* name, const std::string& value) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(value.c_str())), strlen(name),
                        value.size(), NGHTTP2_NV_FLAG_NONE};
    };
    const std::string get = "GET", scheme = "http", authority = "shop.test";
    nghttp2_nv headers[] = {nv(":method", get), nv(":scheme", scheme), nv(":authority", authority),
                            nv(":path", path)};
    int32_t id = nghttp2_submit_request(session_, nullptr, headers, 4, nullptr, nullptr);
    nghttp2_session_send(session_);
    return id;
  }
  // Reads what arrived and sends what nghttp2 has to say (acks, window updates).
  void pump() {
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n <= 0) break;
      nghttp2_session_mem_recv(session_, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(n));
    }
    nghttp2_session_send(session_);
  }

  std::map<int32_t, Response> responses;

 private:
  static ssize_t onSend(nghttp2_session*, const uint8_t* data, size_t len, int, void* arg) {
    ssize_t n = ::write(static_cast<H2Client*>(arg)->fd_, data, len);
    return n < 0 ? static_cast<ssize_t>(NGHTTP2_ERR_WOULDBLOCK) : n;
  }
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* arg) {
    if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status")
      static_cast<H2Client*>(arg)->responses[frame->hd.stream_id].status =
          std::stoi(std::string(reinterpret_cast<const char*>(value), valuelen));
    return 0;
  }
  static int onData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* arg) {
    static_cast<H2Client*>(arg)->responses[id].body.append(reinterpret_cast<const char*>(data),
                                                           len);
    return 0;
  }
  static int onClose(nghttp2_session*, int32_t id, uint32_t, void* arg) {
    static_cast<H2Client*>(arg)->responses[id].closed = true;
    return 0;
  }

  int fd_;
  nghttp2_session* session_ = nullptr;
};

TEST(Http1Connection, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  TestBackend backend(echo());
  Harness h(backend.address());
  int c = h.connect();
  sendAll(c,
          "GET /api/one HTTP/1.1\r\nHost: shop.test\r\n\r\n"
          "GET /api/two HTTP/1.1\r\nHost: shop.test\r\n\r\n");
  Received r;
  ASSERT_TRUE(h.runUntil([&] { return r.count("HTTP/1.1 200") == 2; }, [&] { r.read(c); }))
      << r.bytes;
  const size_t one = r.bytes.find("for /api/one"), two = r.bytes.find("for /api/two");
  ASSERT_NE(one, std::string::npos);
  ASSERT_NE(two, std::string::npos);
  EXPECT_LT(one, two) << "responses leave in the order of the requests";
  EXPECT_FALSE(r.closed) << "keep-alive";
  EXPECT_EQ(backend.requestCount(), 2u);
}

TEST(Http1Connection, IdleKeepAliveClosesWhenTheClockPassesIdleTimeout) {
  TestBackend backend(echo());
  Harness h(backend.address());
  int c = h.connect();
  sendAll(c, "GET /api/x HTTP/1.1\r\nHost: shop.test\r\n\r\n");
  Received r;
  ASSERT_TRUE(h.runUntil([&] { return r.count("for /api/x") == 1; }, [&] { r.read(c); }));
  h.advance(4999ms);
  h.turn();
  r.read(c);
  EXPECT_FALSE(r.closed) << "idle_timeout is 5 s";
  h.advance(2ms);
  ASSERT_TRUE(h.runUntil([&] { return r.closed; }, [&] { r.read(c); }));
  EXPECT_TRUE(h.runUntil([&] { return h.openSessions() == 0; }));
}

TEST(Http1Connection, SlowHeadGets408AtTheHeadDeadline) {
  TestBackend backend(echo());
  Harness h(backend.address());
  int c = h.connect();
  sendAll(c, "GET /api/x HTTP/1.1\r\nHost: sho");
  h.turn();
  h.advance(999ms);
  Received r;
  r.read(c);
  EXPECT_TRUE(r.bytes.empty()) << "request_headers_timeout is 1 s";
  h.advance(2ms);
  ASSERT_TRUE(h.runUntil([&] { return r.closed; }, [&] { r.read(c); }));
  EXPECT_EQ(r.bytes.rfind("HTTP/1.1 408", 0), 0u) << r.bytes;
  EXPECT_EQ(backend.requestCount(), 0u);
}

TEST(Http1Connection, AmbiguousFramingIs400AndCloseAndNeverForwarded) {
  TestBackend backend(echo());
  Harness h(backend.address());
  int c = h.connect();
  sendAll(c,
          "POST /api/x HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n"
          "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  Received r;
  ASSERT_TRUE(h.runUntil([&] { return r.closed; }, [&] { r.read(c); }));
  EXPECT_EQ(r.bytes.rfind("HTTP/1.1 400", 0), 0u) << r.bytes;
  EXPECT_EQ(r.count("HTTP/1.1"), 1u);
  EXPECT_EQ(backend.requestCount(), 0u);
}

TEST(Http2Connection, StreamsOfOneConnectionAreServedTogether) {
  TestBackend backend(echo());
  Harness h(backend.address());
  int c = h.connect();
  H2Client client(c);  // prior knowledge: nghttp2 sends the connection preface
  const int32_t a = client.get("/api/a"), b = client.get("/api/b");
  ASSERT_TRUE(h.runUntil([&] { return client.responses[a].closed && client.responses[b].closed; },
                         [&] { client.pump(); }));
  EXPECT_EQ(client.responses[a].status, 200);
  EXPECT_EQ(client.responses[a].body, "for /api/a");
  EXPECT_EQ(client.responses[b].status, 200);
  EXPECT_EQ(client.responses[b].body, "for /api/b");
  EXPECT_EQ(backend.requestCount(), 2u);
}

TEST(Http2Connection, AnErrorIsTheSameResponseAsOnHttp1) {
  TestBackend backend(echo());
  Harness h(backend.address());
  // HTTP/1.1: no route for /nothing.
  int c1 = h.connect();
  sendAll(c1, "GET /nothing HTTP/1.1\r\nHost: shop.test\r\nX-Request-Id: rid-1\r\n\r\n");
  Received r;
  ASSERT_TRUE(h.runUntil([&] { return r.bytes.find("rid-1\n") != std::string::npos; },
                         [&] { r.read(c1); }));
  const std::string h1_body = r.bytes.substr(r.bytes.find("\r\n\r\n") + 4);
  // HTTP/2: the same request.
  int c2 = h.connect();
  H2Client client(c2);
  const int32_t id = client.get("/nothing");
  ASSERT_TRUE(h.runUntil([&] { return client.responses[id].closed; }, [&] { client.pump(); }));
  EXPECT_EQ(client.responses[id].status, 404);
  EXPECT_EQ(r.bytes.rfind("HTTP/1.1 404", 0), 0u) << r.bytes;
  // Same text; only the request id differs (the h2 request had none and got a new one).
  const std::string h2_body = client.responses[id].body;
  EXPECT_NE(h2_body.find("no route for this host and path"), std::string::npos) << h2_body;
  EXPECT_EQ(h1_body.substr(0, h1_body.find("request-id:")),
            h2_body.substr(0, h2_body.find("request-id:")));
  EXPECT_EQ(backend.requestCount(), 0u);
}

}  // namespace
}  // namespace lb::stream
