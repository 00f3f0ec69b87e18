// Micro-benchmarks of the request path's pure parts (Google Benchmark): HTTP/1 head parsing
// and encoding, route matching, weighted destination, sticky cookie and balancer picks, and
// recording a request in the statistics. Run: build/bench/micro/micro-bench  (release build;
// figures in bench/README.md).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "proxy/compress/encoder.h"
#include "proxy/compress/policy.h"
#include "proxy/http/http1_encoder.h"
#include "proxy/http/http1_parser.h"
#include "proxy/http/message.h"
#include "proxy/http/request_fields.h"
#include "proxy/ratelimit/rate_limiter.h"
#include "proxy/router/route_table.h"
#include "proxy/router/weighted_pick.h"
#include "proxy/stats/traffic_stats.h"
#include "proxy/stream/sticky_cookie.h"
#include "proxy/upstream/load_balancer.h"

namespace lb {
namespace {

std::string requestWithHeaders(int n) {
  std::string r = "GET /api/products/42?page=3 HTTP/1.1\r\nHost: shop.example.com\r\n";
  for (int i = 1; i < n; ++i)
    r += "X-Header-" + std::to_string(i) + ": value-" + std::to_string(i * 7919) + "\r\n";
  return r + "\r\n";
}

void BM_ParseRequestHead(benchmark::State& state) {
  const std::string req = requestWithHeaders(static_cast<int>(state.range(0)));
  http::Http1HeadParser parser(http::Http1HeadParser::Kind::kRequest, http::HeadLimits{});
  for (auto _ : state) {
    parser.reset();
    auto r = parser.feed(req.data(), req.size());
    if (r.status != http::Http1HeadParser::Status::kDone) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(parser.request());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * req.size()));
}
BENCHMARK(BM_ParseRequestHead)->Arg(5)->Arg(20)->Arg(50);

void BM_EncodeUpstreamRequest(benchmark::State& state) {
  const std::string req = requestWithHeaders(static_cast<int>(state.range(0)));
  http::Http1HeadParser parser(http::Http1HeadParser::Kind::kRequest, http::HeadLimits{});
  parser.feed(req.data(), req.size());
  http::ForwardContext ctx;
  ctx.client_ip = "127.0.0.1";
  ctx.request_id = "0123456789abcdef0123456789abcdef";
  std::string out;
  for (auto _ : state) {
    out.clear();
    http::encodeUpstreamRequest(parser.request(), ctx, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_EncodeUpstreamRequest)->Arg(5)->Arg(20)->Arg(50);

void BM_RouteMatch(benchmark::State& state) {
  router::RouteTable table;
  const int n = static_cast<int>(state.range(0));
  for (int i = 0; i < n; ++i) {
    router::RouteEntry e;
    e.host = "svc" + std::to_string(i) + ".example.com";
    e.path_prefix = "/api/v" + std::to_string(i);
    table.add(e);
  }
  router::RouteEntry fallback;
  fallback.path_prefix = "/";
  table.add(fallback);
  // The worst case: nothing but the last route matches.
  for (auto _ : state) benchmark::DoNotOptimize(table.match("Shop.Example.com:8080", "/cart"));
}
BENCHMARK(BM_RouteMatch)->Arg(1)->Arg(10)->Arg(100);

// A canary route on a header, a cookie and a user-agent regex ahead of the default route,
// matched against a browser-like request of 12 headers that meets none of them (the worst
// case: every condition is evaluated). Arg 0: the header condition only; 1: all three.
void BM_RouteMatchConditions(benchmark::State& state) {
  using Kind = config::ValueMatch::Kind;
  auto cond = [](std::string name, Kind kind, std::string value) {
    config::ValueMatch m;
    m.name = std::move(name);
    m.kind = kind;
    m.value = std::move(value);
    return m;
  };
  router::RouteTable table;
  router::RouteEntry canary;
  canary.path_prefix = "/";
  canary.conditional = true;
  if (state.range(0) == 0) {
    canary.headers = router::compileConditions({cond("X-Canary", Kind::kExact, "1")});
  } else {
    canary.headers = router::compileConditions(
        {cond("User-Agent", Kind::kRegex, "Mozilla/.*(Android|iPhone).*")});
    canary.cookies = router::compileConditions({cond("beta", Kind::kExact, "yes")});
    canary.query = router::compileConditions({cond("debug", Kind::kPresent, "")});
  }
  table.add(canary);
  router::RouteEntry fallback;
  fallback.path_prefix = "/";
  table.add(fallback);
  http::RequestHead req;
  req.method = "GET";
  req.path = "/products/42?color=red";
  req.authority = "shop.example.com";
  req.headers = {{"Host", "shop.example.com"},
                 {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"},
                 {"Accept", "text/html,application/xhtml+xml"},
                 {"Accept-Language", "en-US,en;q=0.5"},
                 {"Accept-Encoding", "gzip, deflate, br"},
                 {"Referer", "https://shop.example.com/"},
                 {"Cookie", "session=abc123; cart=7; theme=dark"},
                 {"Connection", "keep-alive"},
                 {"Upgrade-Insecure-Requests", "1"},
                 {"Sec-Fetch-Dest", "document"},
                 {"Sec-Fetch-Mode", "navigate"},
                 {"Sec-Fetch-Site", "same-origin"}};
  for (auto _ : state) benchmark::DoNotOptimize(table.match(req));
}
BENCHMARK(BM_RouteMatchConditions)->Arg(0)->Arg(1);

// The weighted pick among a route's destinations (2: a canary split; 8: a wide one).
void BM_WeightedPick(benchmark::State& state) {
  std::vector<router::RouteEntry::Destination> d;
  for (int64_t i = 0; i < state.range(0); ++i)
    d.push_back({0, static_cast<int32_t>(i), static_cast<uint32_t>(10 + i * 7), ""});
  std::vector<int64_t> current(d.size(), 0);
  for (auto _ : state) benchmark::DoNotOptimize(router::smoothWeightedPick(d, current.data()));
}
BENCHMARK(BM_WeightedPick)->Arg(2)->Arg(8);

// A sticky session's whole check on the request path: the cookie found among a browser's,
// its value parsed, and its host looked up among the cluster's (3 or 16 hosts, the last one).
void BM_StickyCookie(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<upstream::HostState> hosts(n);
  for (size_t i = 0; i < n; ++i)
    hosts[i].sticky_token = upstream::hashKey("app/h" + std::to_string(i));
  std::string cookie;
  stream::formatStickyCookie("lb_shop", {upstream::hashKey("app"), true, hosts[n - 1].sticky_token},
                             "", &cookie);
  http::RequestHead req;
  req.headers = {{"Host", "shop.example.com"},
                 {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"},
                 {"Accept", "text/html,application/xhtml+xml"},
                 {"Cookie", "session=abc123; cart=7; " + cookie + "; theme=dark"}};
  for (auto _ : state) {
    size_t found = n;
    if (auto value = http::findCookie(req, "lb_shop"))
      if (auto target = stream::parseStickyValue(*value))
        for (size_t i = 0; i < n; ++i)
          if (hosts[i].sticky_token == target->host) found = i;
    benchmark::DoNotOptimize(found);
  }
}
BENCHMARK(BM_StickyCookie)->Arg(3)->Arg(16);

void BM_BalancerPick(benchmark::State& state) {
  const auto kind = static_cast<config::BalancerKind>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  std::vector<std::unique_ptr<upstream::HostState>> states;
  std::vector<upstream::HostLoad> loads(n);
  std::vector<upstream::LbHost> hosts;
  for (size_t i = 0; i < n; ++i) {
    states.push_back(std::make_unique<upstream::HostState>());
    states.back()->id = "h" + std::to_string(i);
    hosts.push_back({states.back().get(), &loads[i]});
  }
  upstream::Random random(7);
  auto lb = upstream::makeLoadBalancer(kind, hosts, random);
  std::vector<uint64_t> picks(n, 0);
  uint64_t key = 0;
  for (auto _ : state) {
    upstream::PickContext ctx;
    ctx.has_hash = true;
    ctx.hash = upstream::hashKey(std::to_string(++key % 10000));
    int h = lb->pick(ctx);
    ++picks[static_cast<size_t>(h)];
  }
  // Distribution quality: the busiest host's share over the ideal share (1.0 is perfect).
  uint64_t most = 0, total = 0;
  for (uint64_t p : picks) {
    most = std::max(most, p);
    total += p;
  }
  state.counters["max_share_vs_ideal"] =
      total ? static_cast<double>(most) * static_cast<double>(n) / static_cast<double>(total) : 0;
  state.SetLabel(config::balancerName(kind));
}
BENCHMARK(BM_BalancerPick)
    ->ArgsProduct({{static_cast<int>(config::BalancerKind::kRoundRobin),
                    static_cast<int>(config::BalancerKind::kLeastRequest),
                    static_cast<int>(config::BalancerKind::kRandom),
                    static_cast<int>(config::BalancerKind::kRingHash)},
                   {3, 10, 100}});

void BM_RecordRequest(benchmark::State& state) {
  stats::TrafficStats stats;
  int64_t second = 1000;
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    if ((i & 0xffff) == 0) ++second;  // a new second now and then, as in real traffic
    stats.recordRequest(second, 200, 1000 + (i & 0xfff) * 37, -1, 0);
  }
  benchmark::DoNotOptimize(stats.totals());
}
BENCHMARK(BM_RecordRequest);

// One rate-limit decision: the key's hash (an address text, as the request path does) and
// the table's compare-and-swap. Arg: distinct keys cycling (1: a route-wide key; 65536: as
// many clients as the table holds; 1M: ten times more, so slots are taken over). With
// ->Threads(2) two threads share one table, as two workers do.
void BM_RateLimitDecision(benchmark::State& state) {
  // A fresh table per run, made by thread 0 before the loop (the loop's start waits for every
  // thread); 1e9/s, so every request passes and each decision includes its compare-and-swap.
  static std::unique_ptr<ratelimit::RateLimiter> limiter;
  if (state.thread_index() == 0)
    limiter = std::make_unique<ratelimit::RateLimiter>(1000000000, 1000, 1000, 65536);
  const uint32_t keys = static_cast<uint32_t>(state.range(0));
  std::vector<std::string> ips;
  for (uint32_t i = 0; i < std::min<uint32_t>(keys, 4096); ++i)
    ips.push_back("10." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255) + ".7");
  uint64_t now = 0, i = 0, allowed = 0;
  for (auto _ : state) {
    const std::string& ip = ips[i % ips.size()];
    uint64_t key =
        upstream::hashKey(ip) ^ (keys > ips.size() ? (i % keys) * 0x9e3779b97f4a7c15ULL : 0);
    if ((i & 15) == 0)  // the worker loop's cached time, refreshed now and then
      now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    allowed += limiter->take(key, now).allowed;
    ++i;
  }
  state.counters["allowed"] =
      benchmark::Counter(static_cast<double>(allowed), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_RateLimitDecision)->Arg(1)->Arg(65536)->Arg(1000000);
BENCHMARK(BM_RateLimitDecision)->Arg(1)->Arg(65536)->Threads(2);

// Compression's check on the request path, per response: a browser's Accept-Encoding
// negotiated and the backend's head judged (type, length, Content-Encoding, Cache-Control).
void BM_CompressionDecide(benchmark::State& state) {
  config::CompressionConfig cfg;
  cfg.enabled = true;
  http::RequestHead req;
  req.method = "GET";
  req.headers = {{"Host", "shop.example.com"},
                 {"Accept", "text/html,application/xhtml+xml"},
                 {"Accept-Encoding", "gzip, deflate, br, zstd"},
                 {"Cookie", "session=abc123"}};
  http::ResponseHead resp;
  resp.status = 200;
  resp.framing = http::BodyFraming::kContentLength;
  resp.content_length = 48213;
  resp.headers = {{"Content-Type", "application/json; charset=utf-8"},
                  {"Content-Length", "48213"},
                  {"Cache-Control", "private, max-age=0"},
                  {"Date", "Fri, 04 Dec 2026 12:00:00 GMT"}};
  for (auto _ : state) benchmark::DoNotOptimize(compress::decide(cfg, req, resp));
}
BENCHMARK(BM_CompressionDecide);

// A listing page of ~100 KiB, as bench/load/gzip.sh serves.
std::string listingPage() {
  std::string page = "<!doctype html><html><body><ul>\n";
  uint32_t x = 7;
  char line[200];
  for (int i = 0; i < 1100; ++i) {
    x = x * 1103515245 + 12345;
    std::snprintf(line, sizeof(line),
                  "<li class=\"product\" data-id=\"%d\"><a href=\"/p/%u\">Item %d</a> <span "
                  "class=\"price\">%u.%02u</span></li>\n",
                  i, x % 100000, i, x % 500, x % 100);
    page += line;
  }
  return page + "</ul></body></html>\n";
}

// Coding throughput (bytes of page per second): one whole response each, its coder state
// taken and given back as on the request path, fed in 16 KiB reads.
void codeThroughput(benchmark::State& state, compress::Coding coding) {
  config::CompressionConfig cfg;
  cfg.gzip_level = static_cast<int>(state.range(0));
  cfg.brotli_quality = static_cast<int>(state.range(0));
  const std::string page = listingPage();
  compress::Encoder e;
  std::string out;
  size_t coded = 0;
  for (auto _ : state) {
    e.start(coding, cfg, 0);
    out.clear();
    for (size_t at = 0; at < page.size(); at += 16384)
      e.write(page.data() + at, std::min<size_t>(16384, page.size() - at), &out);
    e.finish(&out);
    coded = out.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * page.size()));
  state.counters["ratio"] = static_cast<double>(coded) / static_cast<double>(page.size());
}
void BM_Gzip(benchmark::State& state) { codeThroughput(state, compress::Coding::kGzip); }
void BM_Brotli(benchmark::State& state) { codeThroughput(state, compress::Coding::kBrotli); }
BENCHMARK(BM_Gzip)->Arg(1)->Arg(6);
BENCHMARK(BM_Brotli)->Arg(1)->Arg(4)->Arg(6);

}  // namespace
}  // namespace lb

BENCHMARK_MAIN();
