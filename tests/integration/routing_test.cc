// Route conditions (docs/routing.md) through a real lbproxy: a header, a cookie, a query
// parameter with a method, and a regex send requests to a second cluster; everything else
// goes to the first; HTTP/2 clients are routed alike; a reload with an invalid regex is
// refused with its position and the running routes stay.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/admin_client.h"
#include "tests/support/child_process.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

std::string routedYaml(const TestBackend& stable, const TestBackend& canary,
                       const std::string& regex = "Mozilla/.*(Android|iPhone).*") {
  TestConfig cfg;
  cfg.hosts = {stable.address()};
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  cfg.routes =
      "      - name: canary-header\n"
      "        match: { headers: [{ name: X-Canary, exact: \"1\" }] }\n"
      "        cluster: canary\n"
      "      - name: beta-cookie\n"
      "        match: { cookies: [{ name: beta, exact: \"yes\" }] }\n"
      "        cluster: canary\n"
      "      - name: debug-get\n"
      "        match: { path_prefix: /api/, methods: [GET], query: [{ name: debug, present: true "
      "}] }\n"
      "        cluster: canary\n"
      "      - name: mobile\n"
      "        match: { headers: [{ name: User-Agent, regex: \"" +
      regex +
      "\" }] }\n"
      "        cluster: canary\n"
      "      - name: default\n"
      "        cluster: app\n";
  cfg.clusters_extra =
      "  - name: canary\n    hosts:\n      - { id: c1, address: \"" + canary.address() + "\" }\n";
  return cfg.yaml();
}

std::string bodyOf(const ProxyProcess& proxy, const std::string& request) {
  TestClient c(proxy.port());
  if (!c.send(request)) return "";
  auto r = c.read();
  return r && r->status == 200 ? r->body : "status " + std::to_string(r ? r->status : 0);
}

std::string get(const std::string& path, const std::string& headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: shop\r\n" + headers + "\r\n";
}

TEST(Routing, HeadersCookiesQueryMethodsAndRegexesPickTheCluster) {
  TestBackend stable(answers("stable")), canary(answers("canary"));
  ProxyProcess proxy(routedYaml(stable, canary));
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  EXPECT_EQ(bodyOf(proxy, get("/")), "stable");
  EXPECT_EQ(bodyOf(proxy, get("/", "X-Canary: 1\r\n")), "canary");
  EXPECT_EQ(bodyOf(proxy, get("/", "x-canary: 2\r\n")), "stable");
  EXPECT_EQ(bodyOf(proxy, get("/", "Cookie: session=9; beta=yes\r\n")), "canary");
  EXPECT_EQ(bodyOf(proxy, get("/", "Cookie: beta=no\r\n")), "stable");
  EXPECT_EQ(bodyOf(proxy, get("/api/items?debug")), "canary");
  EXPECT_EQ(bodyOf(proxy, get("/api/items?x=1&debug=1")), "canary");
  EXPECT_EQ(bodyOf(proxy, get("/api/items?nodebug")), "stable");
  EXPECT_EQ(
      bodyOf(proxy, "POST /api/items?debug HTTP/1.1\r\nHost: shop\r\nContent-Length: 0\r\n\r\n"),
      "stable");
  EXPECT_EQ(bodyOf(proxy, get("/", "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)\r\n")),
            "canary");
  EXPECT_EQ(bodyOf(proxy, get("/", "User-Agent: curl/7.88.1\r\n")), "stable");
  // Each request counted on the route that took it.
  AdminClient admin(proxy.adminPort());
  auto stats = admin.get("/v1/stats?window=60s").body;
  EXPECT_EQ(stats["routes"]["canary-header"]["requests"], 1) << stats.dump();
  EXPECT_EQ(stats["routes"]["debug-get"]["requests"], 2);
  EXPECT_EQ(stats["routes"]["default"]["requests"], 6);
}

TEST(Routing, Http2ClientsAreRoutedByTheSameConditions) {
  TestBackend stable(answers("stable")), canary(answers("canary"));
  ProxyProcess proxy(routedYaml(stable, canary));
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.port());
  std::string out;
  ASSERT_EQ(runShell("nghttp -H 'x-canary: 1' " + url + "/a", &out), 0) << out;
  EXPECT_EQ(out, "canary");
  out.clear();
  ASSERT_EQ(runShell("nghttp -H 'cookie: beta=yes' " + url + "/b", &out), 0) << out;
  EXPECT_EQ(out, "canary");
  out.clear();
  ASSERT_EQ(runShell("nghttp " + url + "/c", &out), 0) << out;
  EXPECT_EQ(out, "stable");
}

TEST(Routing, AnInvalidRegexFailsTheReloadWithItsPlaceAndTheRoutesStay) {
  TestBackend stable(answers("stable")), canary(answers("canary"));
  ProxyProcess proxy(routedYaml(stable, canary));
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  {
    std::string tmp = proxy.configPath() + ".tmp";
    std::ofstream(tmp) << routedYaml(stable, canary, "Mozilla/(unclosed");
    std::rename(tmp.c_str(), proxy.configPath().c_str());
  }
  AdminClient admin(proxy.adminPort());
  AdminResponse r = admin.call("POST", "/v1/config/reload");
  EXPECT_EQ(r.status, 422) << r.text;
  ASSERT_TRUE(r.body["errors"].is_array()) << r.text;
  ASSERT_EQ(r.body["errors"].size(), 1u) << r.text;
  EXPECT_EQ(r.body["errors"][0]["field"], "listeners[0].routes[3].match.headers[0].regex");
  EXPECT_GT(r.body["errors"][0]["line"].get<int>(), 0);
  EXPECT_NE(r.body["errors"][0]["message"].get<std::string>().find("missing )"), std::string::npos)
      << r.text;
  EXPECT_EQ(bodyOf(proxy, get("/", "User-Agent: Mozilla/5.0 (Android)\r\n")), "canary");
  EXPECT_EQ(bodyOf(proxy, get("/")), "stable");
}

}  // namespace
}  // namespace lb::test
