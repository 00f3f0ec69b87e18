// The request object driven in-process: a worker context on a ManualClock, a fake client
// connection (Downstream) that records what the request asks it to encode, and a real
// upstream on loopback (TestBackend). Timeouts are events the test causes by moving the
// clock; the loop runs until the fake connection sees the request end.
#include "proxy/stream/active_request.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "common/clock.h"
#include "config/loader.h"
#include "proxy/snapshot/snapshot.h"
#include "proxy/stream/worker_context.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_util.h"

namespace lb::stream {
namespace {

using namespace std::chrono_literals;
using test::BackendConnection;
using test::BackendRequest;
using test::TestBackend;

// The client every request here comes from: 192.0.2.7, without a socket of its own.
ClientAddresses& testClient() {
  static ClientAddresses client = [] {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(40000);
    inet_pton(AF_INET, "192.0.2.7", &sa.sin_addr);
    return ClientAddresses(-1, reinterpret_cast<const sockaddr*>(&sa));
  }();
  return client;
}

// What the request asked of its client connection.
class FakeDownstream final : public Downstream {
 public:
  explicit FakeDownstream(common::EventLoop& loop) : loop_(loop) {}

  Info info() const override {
    Info i;
    i.client_ip = "192.0.2.7";
    i.listener = "public";
    i.counters = const_cast<stats::ListenerCounters*>(&counters);
    return i;
  }
  void onBodyWanted() override { ++body_wanted; }
  void onUpstreamFull() override { ++upstream_full; }
  http::Error encodeHead(const http::ResponseHead& resp, std::string_view request_id,
                         bool closes_connection) override {
    ++heads;
    status = resp.status;
    id = std::string(request_id);
    closes = closes_connection;
    fields = resp.headers;
    return {};
  }
  void encodeData(const char* data, size_t len) override { body.append(data, len); }
  void encodeEnd() override { ++ends; }
  void encodeReset() override {
    ++resets;
    done();
  }
  void onRequestComplete() override {
    ++completes;
    done();
  }

  // Runs the loop until the request ends (complete or reset).
  void runUntilDone() {
    finished_ = false;
    while (!finished_) event_base_loop(loop_.base(), EVLOOP_ONCE);
  }
  // Runs one turn of the loop: handles the next event, or returns after 5 ms without one
  // (for a wait on another thread, such as the backend's receipt of the request).
  void turn() {
    timeval slice{0, 5000};
    event_base_loopexit(loop_.base(), &slice);
    event_base_loop(loop_.base(), EVLOOP_ONCE);
  }

  stats::ListenerCounters counters;
  int body_wanted = 0, upstream_full = 0, heads = 0, ends = 0, resets = 0, completes = 0;
  int status = 0;
  bool closes = false;
  std::string id;
  std::string body;
  std::vector<http::Header> fields;

 private:
  void done() { finished_ = true; }
  common::EventLoop& loop_;
  bool finished_ = false;
};

uint64_t requestsCounted(const stats::ListenerCounters& c) {
  uint64_t n = 0;
  for (const auto& by_tls : c.requests)
    for (uint64_t v : by_tls) n += v;
  return n;
}

// A worker context over one listener routing /api to a cluster of `backend` (timeout 2 s).
struct Harness {
  explicit Harness(const std::string& backend) {
    const std::string yaml =
        "listeners:\n"
        "  - name: public\n"
        "    listen: 127.0.0.1:0\n"
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
    snapshot = snapshot::buildSnapshot(loaded.config, 1, registry, &error);
    EXPECT_TRUE(snapshot) << error;
    ctx = std::make_unique<WorkerContext>(0, WorkerContext::Hooks{}, snapshot, &clock);
  }
  const snapshot::ListenerSnapshot& listener() const { return ctx->view()->snapshot->listeners[0]; }

  common::ManualClock clock;
  snapshot::HostRegistry registry;
  std::shared_ptr<const snapshot::Snapshot> snapshot;
  std::unique_ptr<WorkerContext> ctx;
};

http::RequestHead get(const std::string& path, const std::string& method = "GET") {
  http::RequestHead head;
  head.method = method;
  head.target = head.path = path;
  head.authority = "shop.test";
  return head;
}

TEST(ActiveRequest, ProxiesARequestAndRecordsItOnce) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    conn.write(test::simpleResponse(200, "hello " + req.target));
  });
  Harness h(backend.address());
  FakeDownstream down(h.ctx->loop());
  ActiveRequest request(*h.ctx);
  http::RequestHead head = get("/api/a");

  request.begin(down, head, *h.ctx->view(), h.ctx->loop().now());
  request.start(*h.ctx->view(), h.listener(), testClient(), false);
  down.runUntilDone();

  EXPECT_EQ(down.status, 200);
  EXPECT_EQ(down.body, "hello /api/a");
  EXPECT_EQ(down.heads, 1);
  EXPECT_EQ(down.ends, 1);
  EXPECT_EQ(down.completes, 1);
  EXPECT_EQ(down.resets, 0);
  EXPECT_EQ(down.id.size(), 32u) << "a new request id, 128 bits in hex";
  EXPECT_TRUE(request.ended());
  EXPECT_EQ(requestsCounted(down.counters), 1u);
  ASSERT_EQ(backend.requestCount(), 1u);
  bool forwarded_for = false;
  const std::vector<BackendRequest> received = backend.requests();
  for (const auto& [name, value] : received[0].headers)
    forwarded_for |= name == "X-Forwarded-For" && value == "192.0.2.7";
  EXPECT_TRUE(forwarded_for);
}

TEST(ActiveRequest, ResetLeavesNothingOfTheLastRequest) {
  TestBackend backend([](const BackendRequest& req, BackendConnection& conn) {
    conn.write(test::simpleResponse(req.target == "/api/first" ? 201 : 202, "x"));
  });
  Harness h(backend.address());
  ActiveRequest request(*h.ctx);

  FakeDownstream first(h.ctx->loop());
  http::RequestHead head1 = get("/api/first");
  head1.headers.push_back({"X-Request-Id", "client-id-1"});
  request.begin(first, head1, *h.ctx->view(), h.ctx->loop().now());
  request.start(*h.ctx->view(), h.listener(), testClient(), false);
  first.runUntilDone();
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(first.id, "client-id-1");

  request.reset();
  EXPECT_FALSE(request.begun());
  EXPECT_FALSE(request.ended());
  EXPECT_FALSE(request.headSent());
  EXPECT_EQ(request.status(), 0);
  EXPECT_TRUE(request.requestId().empty());

  FakeDownstream second(h.ctx->loop());
  http::RequestHead head2 = get("/api/second");
  request.begin(second, head2, *h.ctx->view(), h.ctx->loop().now());
  request.start(*h.ctx->view(), h.listener(), testClient(), false);
  second.runUntilDone();
  EXPECT_EQ(second.status, 202);
  EXPECT_NE(second.id, "client-id-1") << "the first request's id leaked into the second";
  EXPECT_EQ(second.id.size(), 32u);
  EXPECT_EQ(requestsCounted(first.counters), 1u);
  EXPECT_EQ(requestsCounted(second.counters), 1u);
}

TEST(ActiveRequest, ErrorsAreAnsweredOnceWithTheSameResponse) {
  TestBackend backend(test::answers("unused"));
  Harness h(backend.address());

  // No route: 404, answered by the request itself; a client's mistake that keeps the
  // connection (closes = false).
  FakeDownstream down(h.ctx->loop());
  ActiveRequest request(*h.ctx);
  http::RequestHead head = get("/nothing-here");
  head.headers.push_back({"X-Request-Id", "rid-404"});
  request.begin(down, head, *h.ctx->view(), h.ctx->loop().now());
  request.start(*h.ctx->view(), h.listener(), testClient(), false);
  EXPECT_EQ(down.status, 404);
  EXPECT_EQ(down.body, "404 Not Found: no route for this host and path\nrequest-id: rid-404\n");
  EXPECT_FALSE(down.closes);
  EXPECT_EQ(down.completes, 1);
  EXPECT_EQ(requestsCounted(down.counters), 1u);
  // A second failure after the end changes nothing and records nothing.
  request.fail(http::upstreamError(http::ErrorCode::kUpstreamReset, false, "late"));
  EXPECT_EQ(down.heads, 1);
  EXPECT_EQ(requestsCounted(down.counters), 1u);
  EXPECT_EQ(backend.requestCount(), 0u);

  // A malformed request (the connection's parser refused it): 400, and the connection closes.
  // HEAD gets the same fields and no body.
  request.reset();
  FakeDownstream bad(h.ctx->loop());
  http::RequestHead head_req = get("/api/x", "HEAD");
  request.begin(bad, head_req, *h.ctx->view(), h.ctx->loop().now());
  request.fail(http::clientError(http::ErrorCode::kBadRequest, "bad framing"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(bad.closes);
  EXPECT_EQ(bad.body, "") << "no body for HEAD";
  EXPECT_EQ(bad.ends, 1);
  bool type = false;
  for (const auto& f : bad.fields) type |= f.name == "Content-Type";
  EXPECT_TRUE(type);
}

TEST(ActiveRequest, UpstreamTimeoutIsAnEventOfTheClock) {
  // The backend takes the request and never answers until the test ends.
  test::Gate release;
  TestBackend backend([&](const BackendRequest&, BackendConnection&) { release.wait(); });
  Harness h(backend.address());
  FakeDownstream down(h.ctx->loop());
  ActiveRequest request(*h.ctx);
  http::RequestHead head = get("/api/slow");
  request.begin(down, head, *h.ctx->view(), h.ctx->loop().now());
  request.start(*h.ctx->view(), h.listener(), testClient(), false);
  // Until the backend has the request: connect and write are events of the loop.
  while (backend.requestCount() == 0) down.turn();

  h.clock.advance(1999ms);
  h.ctx->deadlines().expireDue();
  EXPECT_EQ(down.heads, 0) << "the route's timeout is 2 s";

  h.clock.advance(2ms);
  h.ctx->deadlines().expireDue();
  EXPECT_EQ(down.status, 504);
  EXPECT_NE(down.body.find("upstream response timeout"), std::string::npos) << down.body;
  EXPECT_EQ(down.completes, 1);
  release.open();
}

TEST(ActiveRequest, ClientGoneIsRecordedAs499Once) {
  test::Gate release;
  TestBackend backend([&](const BackendRequest&, BackendConnection&) { release.wait(); });
  Harness h(backend.address());
  FakeDownstream down(h.ctx->loop());
  ActiveRequest request(*h.ctx);
  http::RequestHead head = get("/api/gone");
  request.begin(down, head, *h.ctx->view(), h.ctx->loop().now());
  request.start(*h.ctx->view(), h.listener(), testClient(), false);
  while (backend.requestCount() == 0) down.turn();

  request.clientGone();
  EXPECT_EQ(request.status(), 499);
  EXPECT_TRUE(request.ended());
  EXPECT_FALSE(request.exchangeActive());
  EXPECT_EQ(down.heads, 0) << "nobody is left to answer";
  EXPECT_EQ(down.completes, 0);
  request.clientGone();
  EXPECT_EQ(requestsCounted(down.counters), 1u);
  // The exchange was abandoned: moving past its timeout fires nothing.
  h.clock.advance(10s);
  h.ctx->deadlines().expireDue();
  EXPECT_EQ(down.heads, 0);
  release.open();
}

// Flow control: the connection tells the request its response buffer is above the high mark;
// the request reads the upstream's head but no body until the buffer is below the low mark.
TEST(ActiveRequest, ResponseWaitsWhileTheClientsBufferIsAboveTheHighMark) {
  const std::string big(1 << 20, 'z');
  TestBackend backend([&](const BackendRequest&, BackendConnection& conn) {
    conn.write(test::simpleResponse(200, big));
  });
  Harness h(backend.address());
  FakeDownstream down(h.ctx->loop());
  ActiveRequest request(*h.ctx);
  http::RequestHead head = get("/api/big");
  request.begin(down, head, *h.ctx->view(), h.ctx->loop().now());
  request.onAboveWriteHighWatermark();  // a full buffer from the last response, say
  request.start(*h.ctx->view(), h.listener(), testClient(), false);
  for (int k = 0; k < 400 && down.heads == 0; ++k) down.turn();
  ASSERT_EQ(down.heads, 1) << "the head goes through";
  for (int k = 0; k < 20; ++k) down.turn();
  EXPECT_EQ(down.body.size(), 0u) << "no body while the client's buffer is full";
  request.onBelowWriteLowWatermark();
  if (down.completes == 0) down.runUntilDone();
  EXPECT_EQ(down.body.size(), big.size());
  EXPECT_EQ(down.completes, 1);
}

}  // namespace
}  // namespace lb::stream
