// Sticky sessions (docs/routing.md): lbproxy sets a cookie naming the destination and the host
// that answered, and a request that brings it back goes there again on any worker and over
// either protocol, until that host is drained, down or removed (then another host answers and
// the cookie is replaced), or that destination's weight is 0. Real backends on loopback, real
// lbproxy processes, and curl's own cookie engine as the browser.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

std::string stickyRoute(const std::string& target, const std::string& sticky) {
  return "      - name: shop\n        match: { path_prefix: / }\n        " + target +
         "\n        sticky: " + sticky + "\n";
}

struct Answer {
  int status = 0;
  std::string body;
  std::string set_cookie;  // the whole Set-Cookie value, "" when none
  std::string value;       // ...and the sticky cookie's value in it
};

// One request on a new connection (so requests land on either worker), with `cookie` (a
// Cookie field value) when it is not empty.
Answer get(uint16_t port, const std::string& cookie = "") {
  TestClient c(port);
  std::string req = "GET /cart HTTP/1.1\r\nHost: shop\r\n";
  if (!cookie.empty()) req += "Cookie: " + cookie + "\r\n";
  Answer a;
  if (!c.send(req + "\r\n")) return a;
  auto r = c.read();
  if (!r) return a;
  a.status = r->status;
  a.body = r->body;
  if (const std::string* sc = r->header("set-cookie")) {
    a.set_cookie = *sc;
    const size_t eq = sc->find('='), semi = sc->find(';');
    if (eq != std::string::npos) a.value = sc->substr(eq + 1, semi - eq - 1);
  }
  return a;
}

TEST(Sticky, ACookieKeepsAClientOnItsHostOnEveryWorkerAndEitherProtocol) {
  TestBackend a(answers("a")), b(answers("b")), c(answers("c"));
  TestConfig cfg;
  cfg.hosts = {a.address(), b.address(), c.address()};
  cfg.access_log = "";
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  cfg.routes = stickyRoute("cluster: app", "{ cookie: lb_app, ttl: 1h }");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  Answer first = get(proxy.port());
  ASSERT_EQ(first.status, 200);
  EXPECT_TRUE(first.set_cookie.starts_with("lb_app=")) << first.set_cookie;
  EXPECT_NE(first.set_cookie.find("; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"),
            std::string::npos)
      << first.set_cookie;
  EXPECT_EQ(first.value.size(), 33u) << first.value;  // destination token . host token
  EXPECT_EQ(first.set_cookie.find("127.0.0.1"), std::string::npos);  // no address leaks
  // Among other cookies, on new connections (both workers): always the same host, and no new
  // cookie since the client has the right one.
  for (int i = 0; i < 20; ++i) {
    Answer again = get(proxy.port(), "theme=dark; lb_app=" + first.value + "; x=1");
    EXPECT_EQ(again.body, first.body) << i;
    EXPECT_EQ(again.set_cookie, "") << i;
  }
  // Without it the balancer spreads requests (round robin) and each gets a cookie.
  std::set<std::string> placed;
  for (int i = 0; i < 6; ++i) {
    Answer fresh = get(proxy.port());
    EXPECT_FALSE(fresh.value.empty());
    placed.insert(fresh.body);
  }
  EXPECT_EQ(placed.size(), 3u);
  // A value lbproxy did not set, or one naming no host of the route, is ignored: the request
  // is placed afresh and gets a cookie.
  const std::vector<std::string> forged_values = {
      "lb_app=zzz", "lb_app=" + first.value.substr(0, 16),
      "lb_app=" + std::string(16, '0') + "." + std::string(16, '0')};
  for (const std::string& forged : forged_values) {
    Answer placed_again = get(proxy.port(), forged);
    EXPECT_EQ(placed_again.status, 200) << forged;
    EXPECT_EQ(placed_again.value.size(), 33u) << forged;
  }

  // curl keeps the cookie in its jar as a browser would, over HTTP/2 (h2c) and HTTP/1.1.
  TempDir dir;
  const std::string jar = dir.path() + "/jar";
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/cart";
  std::set<std::string> seen;
  for (int i = 0; i < 8; ++i) {
    std::string out;
    const std::string proto = i % 2 ? "--http1.1" : "--http2-prior-knowledge";
    ASSERT_EQ(runShell("curl -s " + proto + " -b " + jar + " -c " + jar + " " + url, &out), 0);
    seen.insert(out);
  }
  EXPECT_EQ(seen.size(), 1u);
  std::string jar_text;
  ASSERT_EQ(runShell("cat " + jar, &jar_text), 0);
  EXPECT_NE(jar_text.find("lb_app"), std::string::npos) << jar_text;

  auto stats = AdminClient(proxy.adminPort()).get("/v1/stats").body["routes"]["shop"]["sticky"];
  EXPECT_EQ(stats["kept"], 20 + 7);           // the 20 above and curl's 7 after its first
  EXPECT_EQ(stats["placed"], 1 + 6 + 1 + 1);  // first, the 6 fresh, the forged zzz, curl's first
  EXPECT_EQ(stats["moved"], 2);               // the two well-formed values naming nothing
  const std::string metrics = AdminClient(proxy.adminPort()).get("/metrics").text;
  EXPECT_NE(metrics.find("lbproxy_route_sticky_total{outcome=\"kept\",route=\"shop\"} 27"),
            std::string::npos)
      << metrics;
}

// Hosts h1..h4 answer "1".."4"; a client pinned to one is handed to another when its host is
// stopped (connect refused: retried elsewhere), drained, or removed, and stays on the new one.
TEST(Sticky, ADownDrainedOrRemovedHostHandsItsClientToAnotherWithANewCookie) {
  std::vector<std::unique_ptr<TestBackend>> backends;
  TestConfig cfg;
  for (int i = 1; i <= 4; ++i) {
    backends.push_back(std::make_unique<TestBackend>(answers(std::to_string(i))));
    cfg.hosts.push_back(backends.back()->address());
  }
  cfg.access_log = "";
  cfg.routes = stickyRoute("cluster: app", "{ cookie: lb_app }");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  Answer pinned = get(proxy.port());
  ASSERT_EQ(pinned.status, 200);
  EXPECT_EQ(pinned.set_cookie.find("Max-Age"), std::string::npos);  // a session cookie
  std::set<std::string> gone;
  auto moveOff = [&](const std::string& how) {
    const std::string host = pinned.body;
    gone.insert(host);
    if (how == "down") {
      backends[std::stoul(host) - 1]->stop();
    } else if (how == "drain") {
      ASSERT_EQ(
          admin.call("PUT", "/v1/clusters/app/hosts/h" + host + "/state", R"({"state":"drain"})")
              .status,
          200);
    } else {
      ASSERT_EQ(admin.call("DELETE", "/v1/clusters/app/hosts/h" + host + "?force=true").status,
                200);
    }
    Answer moved = get(proxy.port(), "lb_app=" + pinned.value);
    ASSERT_EQ(moved.status, 200) << how;
    EXPECT_EQ(gone.count(moved.body), 0u) << how << ": answered by " << moved.body;
    ASSERT_FALSE(moved.value.empty()) << how;
    EXPECT_NE(moved.value, pinned.value) << how;
    for (int i = 0; i < 4; ++i) {
      Answer kept = get(proxy.port(), "lb_app=" + moved.value);
      EXPECT_EQ(kept.body, moved.body) << how;
      EXPECT_EQ(kept.set_cookie, "") << how;
    }
    pinned = moved;
  };
  moveOff("down");
  moveOff("drain");
  moveOff("remove");
  EXPECT_EQ(gone.size(), 3u);
}

// Two versions of one cluster split 50/50 with `to: destination`: a user who got the canary
// keeps it (on whichever of its hosts), one who got the stable version keeps that, until the
// canary's weight goes to 0 through the admin API; then its users move and get a new cookie.
TEST(Sticky, AUserWhoGotTheCanaryKeepsItUntilItsWeightIsZero) {
  TestBackend v1a(answers("v1a")), v1b(answers("v1b")), v2a(answers("v2a")), v2b(answers("v2b"));
  TestConfig cfg;
  cfg.access_log = "";
  cfg.clusters_extra = versionedCluster("web", {{"a", v1a.address(), "1.0.0"},
                                                {"b", v1b.address(), "1.0.0"},
                                                {"c", v2a.address(), "1.1.0"},
                                                {"d", v2b.address(), "1.1.0"}});
  cfg.routes = stickyRoute(
      "destinations: [{ cluster: web, subset: { version: 1.0.0 }, weight: 1 },"
      " { cluster: web, subset: { version: 1.1.0 }, weight: 1 }]",
      "{ cookie: lb_version, to: destination }");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  auto version = [](const std::string& body) { return body.substr(0, 2); };
  struct User {
    std::string version, cookie;
  };
  std::vector<User> users;
  for (int i = 0; i < 40; ++i) {
    Answer a = get(proxy.port());
    ASSERT_EQ(a.status, 200);
    ASSERT_EQ(a.value.size(), 16u) << a.set_cookie;  // a destination token alone
    users.push_back({version(a.body), a.value});
  }
  int canary = 0;
  for (const auto& u : users) canary += u.version == "v2";
  EXPECT_GE(canary, 10);
  EXPECT_LE(canary, 30);
  std::set<std::string> hosts;
  for (const auto& u : users) {
    for (int i = 0; i < 3; ++i) {
      Answer a = get(proxy.port(), "lb_version=" + u.cookie);
      EXPECT_EQ(version(a.body), u.version);
      EXPECT_EQ(a.set_cookie, "");
      hosts.insert(a.body);
    }
  }
  EXPECT_EQ(hosts.size(), 4u);  // the host inside a version is the balancer's choice

  AdminClient admin(proxy.adminPort());
  auto put =
      admin.call("PUT", "/v1/routes/shop/destinations",
                 R"({"destinations":[{"cluster":"web","subset":{"version":"1.0.0"},"weight":1},)"
                 R"({"cluster":"web","subset":{"version":"1.1.0"},"weight":0}]})");
  ASSERT_EQ(put.status, 200) << put.text;
  for (const auto& u : users) {
    Answer a = get(proxy.port(), "lb_version=" + u.cookie);
    EXPECT_EQ(version(a.body), "v1");
    EXPECT_EQ(a.set_cookie.empty(), u.version == "v1") << a.set_cookie;
  }
  auto sticky = admin.get("/v1/stats").body["routes"]["shop"]["sticky"];
  EXPECT_EQ(sticky["placed"], 40);
  EXPECT_EQ(sticky["kept"], 3 * 40 + (40 - canary));
  EXPECT_EQ(sticky["moved"], canary);
}

}  // namespace
}  // namespace lb::test
