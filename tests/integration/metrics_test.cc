// /metrics: a scrape is valid Prometheus exposition (checked by promtool from Debian's
// prometheus package) and its counters agree with the requests the test sent.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

// "name{labels} value" lines of an exposition, keyed by "name{labels}" as printed.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// Sum of every sample of `name` whose labels contain all of `must` ("k=\"v\"" pieces).
double sum(const std::map<std::string, double>& s, const std::string& name,
           std::vector<std::string> must = {}) {
  double total = 0;
  for (const auto& [key, value] : s) {
    if (key.compare(0, name.size(), name) != 0) continue;
    if (key.size() > name.size() && key[name.size()] != '{') continue;
    bool all = true;
    for (const auto& m : must) all &= key.find(m) != std::string::npos;
    if (all) total += value;
  }
  return total;
}

TEST(Metrics, ScrapeIsValidAndCountsAgree) {
  TestBackend b([](const BackendRequest& req, BackendConnection& conn) {
    conn.write(simpleResponse(req.target == "/missing" ? 404 : 200, "x"));
  });
  TestConfig cfg;
  cfg.hosts = {b.address()};
  cfg.routes =
      "      - name: products\n"
      "        match: { path_prefix: /api/products }\n"
      "        cluster: app\n"
      "        slo: { mean: 100ms, p95: 200ms, p99: 500ms, max_error_rate: 0.001 }\n"
      "      - name: dead\n"
      "        match: { path_prefix: /dead }\n"
      "        cluster: dead\n"
      "      - match: { path_prefix: / }\n"
      "        cluster: app\n";
  cfg.clusters_extra = "  - name: dead\n    hosts:\n      - { id: d1, address: \"127.0.0.1:" +
                       std::to_string(refusedPort()) + "\" }\n";
  cfg.cluster_extra =
      "    health_check: { path: /health, interval: 100ms, timeout: 100ms, healthy_threshold: 1 "
      "}\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  ASSERT_TRUE(waitUntil([&] { return admin.host("app", "h1")["health"] == "healthy"; },
                        std::chrono::seconds(10)));

  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(httpGet(proxy.port(), "/api/products/" + std::to_string(i))->status, 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(httpGet(proxy.port(), "/missing")->status, 404);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(httpGet(proxy.port(), "/dead")->status, 502);

  AdminResponse scrape = admin.get("/metrics");
  ASSERT_EQ(scrape.status, 200);
  TempDir dir;
  std::string file = dir.write("metrics.txt", scrape.text);
  std::string cmd = "promtool check metrics < " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_TRUE(p);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  int rc = pclose(p);
  // promtool exits 0 for valid exposition; lint remarks (if any) are printed, not fatal.
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out;
  EXPECT_EQ(out.find("error"), std::string::npos) << out;

  auto s = samples(scrape.text);
  EXPECT_EQ(sum(s, "lbproxy_route_requests_total", {"route=\"products\"", "code_class=\"2xx\""}),
            30);
  EXPECT_EQ(sum(s, "lbproxy_route_requests_total", {"route=\"public:/\"", "code_class=\"4xx\""}),
            5);
  EXPECT_EQ(sum(s, "lbproxy_route_requests_total", {"route=\"dead\"", "code_class=\"5xx\""}), 3);
  EXPECT_EQ(sum(s, "lbproxy_route_requests_total"), 38);
  EXPECT_EQ(sum(s, "lbproxy_route_request_duration_seconds_count", {"route=\"products\""}), 30);
  EXPECT_EQ(sum(s, "lbproxy_route_request_duration_seconds_bucket",
                {"route=\"products\"", "le=\"+Inf\""}),
            30);
  EXPECT_EQ(sum(s, "lbproxy_host_requests_total", {"host=\"h1\""}), 35);
  EXPECT_EQ(
      sum(s, "lbproxy_host_upstream_errors_total", {"host=\"d1\"", "reason=\"connect_failed\""}),
      3);
  EXPECT_EQ(sum(s, "lbproxy_route_upstream_errors_total",
                {"route=\"dead\"", "reason=\"connect_failed\""}),
            3);
  EXPECT_EQ(sum(s, "lbproxy_route_slo_latency_seconds", {"route=\"products\"", "stat=\"p99\""}),
            0.5);
  EXPECT_EQ(sum(s, "lbproxy_route_slo_error_rate", {"route=\"products\""}), 0.001);
  EXPECT_EQ(sum(s, "lbproxy_host_healthy", {"host=\"h1\""}), 1);
  EXPECT_EQ(sum(s, "lbproxy_host_admin_state", {"host=\"h1\"", "state=\"ready\""}), 1);
  EXPECT_GE(sum(s, "lbproxy_health_checks_total", {"host=\"h1\"", "result=\"pass\""}), 1);
  EXPECT_EQ(sum(s, "lbproxy_config_version"), 1);
  EXPECT_GT(sum(s, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(sum(s, "process_open_fds"), 3);
  EXPECT_GE(sum(s, "process_threads"), 3);  // main, two workers (+ the log writer)

  // The stats endpoint agrees for the same traffic.
  auto stats = admin.get("/v1/stats?window=60s").body;
  EXPECT_EQ(stats["routes"]["products"]["requests"], 30);
  EXPECT_EQ(stats["routes"]["products"]["responses"]["2xx"], 30);
  EXPECT_EQ(stats["routes"]["dead"]["upstream_errors"]["connect_failed"], 3);
  EXPECT_EQ(stats["clusters"]["app"]["h1"]["requests"], 35);
  EXPECT_GT(stats["routes"]["products"]["latency_ms"]["p99"].get<double>(), 0);
}

}  // namespace
}  // namespace lb::test
