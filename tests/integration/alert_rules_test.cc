// The shipped Prometheus rules (deploy/prometheus/): valid for promtool, their unit tests
// pass, and every lbproxy series they use exists in a real scrape (no drift between the
// rules and the exporter).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"

namespace lb::test {
namespace {

const std::string kDir = std::string(LB_SOURCE_DIR) + "/deploy/prometheus";

// Runs a shell command; returns its exit code and appends its output to *out.
int run(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out->append(buf, n);
  int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(AlertRules, PromtoolChecksAndUnitTestsPass) {
  std::string out;
  EXPECT_EQ(run("cd " + kDir + " && promtool check config prometheus.yml", &out), 0) << out;
  EXPECT_EQ(run("cd " + kDir + " && promtool test rules rules_test.yml", &out), 0) << out;
}

TEST(AlertRules, EverySeriesTheyUseIsExported) {
  std::ifstream in(kDir + "/alerts.yml");
  std::stringstream rules;
  rules << in.rdbuf();
  std::set<std::string> used;
  std::regex name(R"(\b(lbproxy_[a-z_]+|process_[a-z_]+)\b)");
  std::string text = rules.str();
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it)
    used.insert((*it)[1]);
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
