// The shipped Prometheus rules (deploy/prometheus/): valid for promtool, their unit tests
// pass, and every lbproxy series they use exists in a real scrape (no drift between the
// rules and the exporter).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

const std::string kDir = std::string(LB_SOURCE_DIR) + "/deploy/prometheus";

TEST(AlertRules, PromtoolChecksAndUnitTestsPass) {
  std::string out;
  EXPECT_EQ(runShell("cd " + kDir + " && promtool check config prometheus.yml", &out), 0) << out;
  EXPECT_EQ(runShell("cd " + kDir + " && promtool test rules rules_test.yml", &out), 0) << out;
}

TEST(AlertRules, EverySeriesTheyUseIsExported) {
  std::ifstream in(kDir + "/alerts.yml");
  std::stringstream rules;
  rules << in.rdbuf();
  // Series names: words starting "lbproxy_" or "process_" (no std::regex: GCC 12 warns
  // inside it under the sanitizers).
  std::set<std::string> used;
  const std::string text = rules.str();
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
  for (size_t i = 0; i < text.size(); ++i) {
    if (i > 0 && word(text[i - 1])) continue;
    if (text.compare(i, 8, "lbproxy_") != 0 && text.compare(i, 8, "process_") != 0) continue;
    size_t end = i;
    while (end < text.size() && word(text[end])) ++end;
    used.insert(text.substr(i, end - i));
    i = end;
  }
  ASSERT_GE(used.size(), 5u);

  TestBackend b(
      [](const BackendRequest&, BackendConnection& conn) { conn.write(simpleResponse(200, "x")); });
  TestConfig cfg;
  cfg.hosts = {b.address()};
  cfg.routes =
      "      - name: products\n        match: { path_prefix: / }\n        cluster: app\n"
      "        slo: { p99: 500ms }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  ASSERT_EQ(httpGet(proxy.port(), "/")->status, 200);
  std::string scrape = AdminClient(proxy.adminPort()).get("/metrics").text;
  for (const auto& series : used)
    EXPECT_NE(scrape.find("\n" + series), std::string::npos) << series << " is not exported";
}

}  // namespace
}  // namespace lb::test
