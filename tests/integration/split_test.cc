// Weighted destinations (docs/routing.md): a route splits its requests by weight between
// clusters and between label subsets of one cluster's hosts, exactly per worker (smooth
// weighted round robin); the admin API changes the split without a reload, the state file
// keeps it across a restart, and a subset without hosts gives its share to the others.
// Real backends on loopback, real lbproxy processes.
#include <gtest/gtest.h>

#include <map>
#include <memory>
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

using namespace std::chrono_literals;

// Three backends: two run version 1.0.0, one 1.1.0; cluster "web" lists them with labels.
struct Fleet {
  TestBackend v1a{answers("v1a")}, v1b{answers("v1b")}, v2{answers("v2")};

  std::string cluster() {
    return versionedCluster("web", {{"a", v1a.address(), "1.0.0"},
                                    {"b", v1b.address(), "1.0.0"},
                                    {"c", v2.address(), "1.1.0"}});
  }
};

std::string splitRoute(const std::string& destinations) {
  return "      - name: shop\n        match: { path_prefix: / }\n        destinations: " +
         destinations + "\n";
}

// The fleet's cluster "web" behind route "shop" with these destinations, no access log.
TestConfig splitConfig(Fleet& f, const std::string& destinations, int workers = 1) {
  TestConfig cfg;
  cfg.workers = workers;
  cfg.access_log = "";
  cfg.clusters_extra = f.cluster();
  cfg.routes = splitRoute(destinations);
  return cfg;
}

// Sends `n` requests over `connections` keep-alive connections taken in turn (they land on
// both workers) and counts the answers by body.
std::map<std::string, int> send(uint16_t port, int n, int connections = 8) {
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < connections; ++i) clients.push_back(std::make_unique<TestClient>(port));
  std::map<std::string, int> count;
  for (int i = 0; i < n; ++i) {
    TestClient& c = *clients[static_cast<size_t>(i % connections)];
    if (!c.send("GET /item HTTP/1.1\r\nHost: shop\r\n\r\n")) break;
    auto r = c.read();
    if (!r) break;
    ++count[r->status == 200 ? r->body : std::to_string(r->status)];
  }
  return count;
}

double share(std::map<std::string, int>& count, const std::vector<std::string>& bodies, int n) {
  int sum = 0;
  for (const auto& b : bodies) sum += count[b];
  return 100.0 * sum / n;
}

TEST(Split, TenThousandRequestsFollowTheWeightsOfTwoSubsetsWithinAPoint) {
  Fleet f;
  TestConfig cfg = splitConfig(f,
                               "[{ cluster: web, subset: { version: 1.0.0 }, weight: 90 },"
                               " { cluster: web, subset: { version: 1.1.0 }, weight: 10 }]",
                               2);
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  const int n = 10000;
  auto count = send(proxy.port(), n);
  EXPECT_EQ(count["v1a"] + count["v1b"] + count["v2"], n);
  const double canary = share(count, {"v2"}, n);
  EXPECT_NEAR(canary, 10.0, 1.0) << count["v2"];
  // Inside the 1.0.0 subset the cluster's balancer spreads the load over both hosts.
  EXPECT_NEAR(count["v1a"], count["v1b"], n / 100);
  AdminClient admin(proxy.adminPort());
  auto routes = admin.get("/v1/routes").body["routes"];
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0]["source"], "file");
  EXPECT_EQ(routes[0]["destinations"][1]["label"], "web{version=1.1.0}");
  EXPECT_EQ(routes[0]["destinations"][1]["hosts"], 1);
  EXPECT_DOUBLE_EQ(routes[0]["destinations"][1]["share"].get<double>(), 0.1);
}

TEST(Split, TwoClustersByWeightAndTheAccessLogNamesTheDestination) {
  Fleet f;
  TestBackend other(answers("other"));
  TestConfig cfg;
  cfg.workers = 1;
  cfg.hosts = {other.address()};
  cfg.clusters_extra = f.cluster();
  cfg.routes = splitRoute("[{ cluster: web, weight: 3 }, { cluster: app, weight: 1 }]");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto count = send(proxy.port(), 400, 2);
  EXPECT_EQ(count["other"], 100);  // one worker: exactly its share
  EXPECT_EQ(count["v1a"] + count["v1b"] + count["v2"], 300);
  EXPECT_TRUE(proxy.process().waitForLine("\"cluster\":\"app\",\"destination\":\"app\"", 5s));
  EXPECT_TRUE(proxy.process().waitForLine("\"cluster\":\"web\",\"destination\":\"web\"", 5s));
}

TEST(Split, TheAdminApiChangesTheSplitWithoutAReloadAndTheStateFileKeepsIt) {
  Fleet f;
  TempDir dir;
  const std::string state_file = dir.path() + "/state.json";
  TestConfig cfg = splitConfig(f,
                               "[{ cluster: web, subset: { version: 1.0.0 }, weight: 100 },"
                               " { cluster: web, subset: { version: 1.1.0 }, weight: 0 }]");
  cfg.admin = "admin: { listen: 127.0.0.1:0, state_file: \"" + state_file + "\" }\n";
  const std::string half =
      R"({"destinations":[{"cluster":"web","subset":{"version":"1.0.0"},"weight":50},)"
      R"({"cluster":"web","subset":{"version":"1.1.0"},"weight":50}]})";
  {
    ProxyProcess proxy(cfg.yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    auto before = send(proxy.port(), 100, 2);
    EXPECT_EQ(before["v2"], 0);  // weight 0: the canary is declared but gets nothing
    AdminClient admin(proxy.adminPort());
    auto put = admin.call("PUT", "/v1/routes/shop/destinations", half);
    ASSERT_EQ(put.status, 200) << put.text;
    EXPECT_EQ(put.body["source"], "runtime");
    EXPECT_EQ(put.body["destinations"][1]["weight"], 50);
    auto after = send(proxy.port(), 1000, 2);
    EXPECT_EQ(after["v2"], 500);
    EXPECT_EQ(admin.get("/v1/status").body["config_version"], 1);  // no reload
    // A reload of the unchanged file keeps the runtime split.
    ASSERT_EQ(admin.call("POST", "/v1/config/reload").status, 200);
    EXPECT_EQ(send(proxy.port(), 100, 2)["v2"], 50);
  }
  ProxyProcess again(cfg.yaml());
  ASSERT_TRUE(again.ok()) << again.process().output();
  AdminClient admin(again.adminPort());
  EXPECT_EQ(admin.get("/v1/routes/shop").body["source"], "runtime");
  EXPECT_EQ(send(again.port(), 100, 2)["v2"], 50);
  // DELETE goes back to the file's split, and the state file forgets it.
  auto reset = admin.call("DELETE", "/v1/routes/shop/destinations");
  ASSERT_EQ(reset.status, 200) << reset.text;
  EXPECT_EQ(reset.body["source"], "file");
  EXPECT_EQ(send(again.port(), 100, 2)["v2"], 0);
}

TEST(Split, BadSplitsGetAJsonErrorAndChangeNothing) {
  Fleet f;
  TestConfig cfg = splitConfig(f, "[{ cluster: web, subset: { version: 1.0.0 } }]");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  struct Case {
    std::string path, body;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"/v1/routes/shop/destinations", R"({"destinations":[]})", 400, "list of 1 to 16"},
           {"/v1/routes/shop/destinations", R"({"destinations":[{"cluster":"web","weight":0}]})",
            400, "sum to 0"},
           {"/v1/routes/shop/destinations",
            R"({"destinations":[{"cluster":"web","weight":20000}]})", 400,
            "destinations[0].weight must be an integer 0-10000"},
           {"/v1/routes/shop/destinations",
            R"({"destinations":[{"cluster":"web"},{"cluster":"web"}]})", 400, "listed twice"},
           {"/v1/routes/shop/destinations", R"({"destinations":[{"cluster":"web","tier":1}]})", 400,
            "unknown field \"tier\""},
           {"/v1/routes/shop/destinations", R"({"destinations":[{"cluster":"nope"}]})", 404,
            "no cluster named \"nope\""},
           {"/v1/routes/none/destinations", R"({"destinations":[{"cluster":"web"}]})", 404,
            "no route named \"none\""},
           {"/v1/routes/shop/destinations", "not json", 400, "not valid JSON"},
       }) {
    auto r = admin.call("PUT", c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.text;
    const std::string message = r.body["error"].value("message", "");
    EXPECT_NE(message.find(c.says), std::string::npos) << c.body << " -> " << r.text;
  }
  EXPECT_EQ(admin.get("/v1/routes/shop").body["source"], "file");
  auto count = send(proxy.port(), 30, 1);
  EXPECT_EQ(count["v2"], 0);
  EXPECT_EQ(count["v1a"] + count["v1b"], 30);
}

TEST(Split, ASubsetWithoutHostsGivesItsShareToTheOthersUntilOneIsAdded) {
  Fleet f;
  TestBackend v3(answers("v3"));
  TestConfig cfg = splitConfig(f,
                               "[{ cluster: web, subset: { version: 1.1.0 }, weight: 1 },"
                               " { cluster: web, subset: { version: 2.0.0 }, weight: 1 }]");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  EXPECT_EQ(send(proxy.port(), 40, 1)["v2"], 40);
  AdminClient admin(proxy.adminPort());
  EXPECT_EQ(admin.get("/v1/routes/shop").body["destinations"][1]["hosts"], 0);
  ASSERT_EQ(
      admin
          .call("POST", "/v1/clusters/web/hosts",
                R"({"id":"d","address":")" + v3.address() + R"(","labels":{"version":"2.0.0"}})")
          .status,
      201);
  auto count = send(proxy.port(), 40, 1);
  EXPECT_EQ(count["v3"], 20);
  EXPECT_EQ(count["v2"], 20);
}

TEST(Split, ADestinationWithNoUsableHostPassesItsShareOn) {
  Fleet f;
  TestConfig cfg = splitConfig(f,
                               "[{ cluster: web, subset: { version: 1.0.0 }, weight: 80 },"
                               " { cluster: web, subset: { version: 1.1.0 }, weight: 20 }]");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto count = send(proxy.port(), 100, 4);
  EXPECT_EQ(count["v2"], 20);
  // The canary's only host taken out of traffic: its 20 % go to the stable subset, no 503.
  AdminClient admin(proxy.adminPort());
  ASSERT_EQ(admin.call("PUT", "/v1/clusters/web/hosts/c/state", R"({"state":"drain"})").status,
            200);
  count = send(proxy.port(), 100, 4);
  EXPECT_EQ(count["v1a"] + count["v1b"], 100) << count.size();
  EXPECT_EQ(count["503"], 0);
  // Back in traffic: the split again.
  ASSERT_EQ(admin.call("PUT", "/v1/clusters/web/hosts/c/state", R"({"state":"ready"})").status,
            200);
  count = send(proxy.port(), 100, 4);
  EXPECT_EQ(count["v2"], 20);
}

TEST(Split, ReloadsDoNotRestartTheSplitsSequence) {
  // A new view (each reload) takes over the split's state: 20 requests, each after a reload,
  // still split exactly 18/2. Restarted, every view's first pick would go to the 90.
  Fleet f;
  TestConfig cfg = splitConfig(f,
                               "[{ cluster: web, subset: { version: 1.0.0 }, weight: 90 },"
                               " { cluster: web, subset: { version: 1.1.0 }, weight: 10 }]");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());
  std::map<std::string, int> count;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(admin.call("POST", "/v1/config/reload").status, 200);
    for (const auto& [body, n] : send(proxy.port(), 1, 1)) count[body] += n;
  }
  EXPECT_EQ(admin.get("/v1/status").body["config_version"], 21);
  EXPECT_EQ(count["v2"], 2);
  EXPECT_EQ(count["v1a"] + count["v1b"], 18);
  // New weights start afresh: the old turn must not pick a destination now at 0.
  for (int i = 0; i < 3; ++i) send(proxy.port(), 1, 1);  // leave the turn mid-way
  ASSERT_EQ(
      admin
          .call("PUT", "/v1/routes/shop/destinations",
                R"({"destinations":[{"cluster":"web","subset":{"version":"1.0.0"},"weight":1},)"
                R"({"cluster":"web","subset":{"version":"1.1.0"},"weight":0}]})")
          .status,
      200);
  EXPECT_EQ(send(proxy.port(), 10, 1)["v2"], 0);
}

TEST(Split, LbctlSetsShowsAndResetsASplit) {
  Fleet f;
  TestConfig cfg = splitConfig(f, "[{ cluster: web, subset: { version: 1.0.0 } }]");
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.adminPort());
  auto lbctl = [&](std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {LB_CTL_BIN, "--proxy", url});
    return runToExit(args, 10s, out);
  };
  std::string out;
  ASSERT_EQ(lbctl({"split", "shop", "web{version=1.0.0}=3", "web{version=1.1.0}=1"}, &out), 0)
      << out;
  EXPECT_NE(out.find("web{version=1.1.0}"), std::string::npos) << out;
  EXPECT_NE(out.find("25.0%"), std::string::npos) << out;
  EXPECT_EQ(send(proxy.port(), 40, 1)["v2"], 10);
  ASSERT_EQ(lbctl({"routes"}, &out), 0) << out;
  EXPECT_NE(out.find("runtime"), std::string::npos) << out;
  // A malformed argument is a usage error and changes nothing.
  EXPECT_NE(lbctl({"split", "shop", "web{version=1.1.0"}, &out), 0);
  EXPECT_NE(out.find("expected CLUSTER=WEIGHT"), std::string::npos) << out;
  ASSERT_EQ(lbctl({"split", "shop", "--reset"}, &out), 0) << out;
  EXPECT_EQ(send(proxy.port(), 40, 1)["v2"], 0);
}

}  // namespace
}  // namespace lb::test
