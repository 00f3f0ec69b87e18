// Micro-benchmarks of the request path's pure parts (Google Benchmark): HTTP/1 head parsing
// and encoding, route matching, balancer picks, and recording a request in the statistics.
// Run: build/bench/micro/micro-bench  (release build; figures in bench/README.md).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/http/http1_encoder.h"
#include "proxy/http/http1_parser.h"
#include "proxy/router/route_table.h"
#include "proxy/stats/traffic_stats.h"
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

}  // namespace
}  // namespace lb

BENCHMARK_MAIN();
