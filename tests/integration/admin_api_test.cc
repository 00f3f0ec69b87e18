// The admin API over real sockets: auth, errors, host lifecycle, and runtime state that
// survives a reload and (with a state file) a restart.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "tests/support/admin_client.h"
#include "tests/support/child_process.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

TEST(AdminApi, BearerTokenRequiredWhenConfigured) {
  TestBackend b(answers("b"));
  TempDir dir;
  const std::string token = "s3cret-token-0123456789";
  std::string token_file = dir.write("token", token + "\n");
  TestConfig cfg;
  cfg.hosts = {b.address()};
  cfg.admin = "admin: { listen: 127.0.0.1:0, token_file: \"" + token_file + "\" }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  AdminResponse none = AdminClient(proxy.adminPort()).get("/v1/status");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["error"]["code"], "unauthorized");
  EXPECT_NE(none.www_authenticate.find("Bearer"), std::string::npos);
  EXPECT_EQ(AdminClient(proxy.adminPort(), token + "x").get("/v1/status").status, 401);
  EXPECT_EQ(AdminClient(proxy.adminPort(), "short").get("/metrics").status, 401);
  EXPECT_EQ(AdminClient(proxy.adminPort())
                .call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"drain"})")
                .status,
            401);
  AdminClient admin(proxy.adminPort(), token);
  AdminResponse ok = admin.get("/v1/status");
  ASSERT_EQ(ok.status, 200) << ok.text;
  EXPECT_EQ(ok.body["workers"], 2);
  EXPECT_EQ(ok.body["config_version"], 1);
  EXPECT_EQ(admin.host("app", "h1")["state"], "ready") << "the 401 drain was not applied";
  // The token never reaches the logs.
  EXPECT_EQ(proxy.process().output().find(token), std::string::npos);
}

TEST(AdminApi, RefusesToStartOnANonLoopbackAddressWithoutToken) {
  TestConfig cfg;
  cfg.hosts = {"127.0.0.1:9"};
  cfg.admin = "admin: { listen: 0.0.0.0:0 }\n";
  TempDir dir;
  std::string path = dir.write("lbproxy.yaml", cfg.yaml());
  ChildProcess child;
  ASSERT_TRUE(child.start({lbproxyBinary(), "-c", path}));
  auto code = child.waitExit(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_NE(child.output().find("admin.listen: a non-loopback admin address needs "
                                "admin.token_file"),
            std::string::npos)
      << child.output();
  EXPECT_EQ(child.output().find("lbproxy: ready"), std::string::npos);
}

TEST(AdminApi, ErrorsSayWhatIsWrong) {
  TestBackend b(answers("b"));
  TestConfig cfg;
  cfg.hosts = {b.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  auto expectError = [&](const std::string& method, const std::string& path,
                         const std::string& body, int status, const std::string& code,
                         const std::string& says) {
    AdminResponse r = admin.call(method, path, body);
    EXPECT_EQ(r.status, status) << method << " " << path << ": " << r.text;
    EXPECT_EQ(r.body["error"]["code"], code) << r.text;
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(says), std::string::npos)
        << r.text;
  };
  expectError("GET", "/v1/clusters/nope", "", 404, "not_found", "nope");
  expectError("GET", "/v1/clusters/app/hosts/zz", "", 404, "not_found", "zz");
  expectError("PUT", "/v1/clusters/app/hosts/zz/state", R"({"state":"drain"})", 404, "not_found",
              "zz");
  expectError("PUT", "/v1/clusters/nope/hosts/h1/weight", R"({"weight":2})", 404, "not_found",
              "nope");
  expectError("POST", "/v1/clusters/app/hosts", "{\"id\": ", 400, "bad_request", "not valid JSON");
  expectError("POST", "/v1/clusters/app/hosts", R"({"id":"x"})", 400, "bad_request", "address");
  expectError("POST", "/v1/clusters/app/hosts", R"({"id":"x","address":"host:80"})", 400,
              "bad_request", "invalid address");
  expectError("POST", "/v1/clusters/app/hosts", R"({"id":"x","address":"127.0.0.1:1","wat":1})",
              400, "bad_request", "unknown field \"wat\"");
  expectError("POST", "/v1/clusters/app/hosts", R"({"id":"h1","address":"127.0.0.1:1"})", 409,
              "conflict", "already exists");
  expectError("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"sleep"})", 400, "bad_request",
              "ready, drain or maint");
  expectError("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"drain","deadline":"soon"})",
              400, "bad_request", "deadline");
  expectError("PUT", "/v1/clusters/app/hosts/h1/weight", R"({"weight":0})", 400, "bad_request",
              "1-10000");
  expectError("DELETE", "/v1/clusters/app/hosts/h1", "", 409, "conflict", "drain it first");
  expectError("GET", "/v1/stats?window=10m", "", 400, "bad_request", "window");
  expectError("DELETE", "/v1/status", "", 405, "method_not_allowed", "DELETE");
  expectError("GET", "/v2/status", "", 404, "not_found", "/v1");
  // None of that changed anything.
  auto host = admin.host("app", "h1");
  EXPECT_EQ(host["state"], "ready");
  EXPECT_EQ(host["weight"], 1);
  EXPECT_EQ(admin.get("/v1/clusters/app").body["hosts"].size(), 1u);
}

TEST(AdminApi, AddDrainRemoveHost) {
  TestBackend one(answers("one")), two(answers("two"));
  TestConfig cfg;
  cfg.hosts = {one.address()};
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  AdminClient admin(proxy.adminPort());

  AdminResponse added = admin.call(
      "POST", "/v1/clusters/app/hosts",
      R"({"id":"h2","address":")" + two.address() + R"(","weight":2,"labels":{"version":"2.0"}})");
  ASSERT_EQ(added.status, 201) << added.text;
  EXPECT_EQ(added.body["id"], "h2");
  EXPECT_EQ(added.body["labels"]["version"], "2.0");
  EXPECT_EQ(added.body["weight"], 2);
  EXPECT_EQ(added.body["health"], "healthy");  // no checks in this cluster
  for (int i = 0; i < 30; ++i) ASSERT_EQ(httpGet(proxy.port(), "/")->status, 200);
  EXPECT_EQ(two.requestCount(), 20u) << "weight 2 of 3";
  EXPECT_EQ(one.requestCount(), 10u);

  AdminResponse weighted = admin.call("PUT", "/v1/clusters/app/hosts/h2/weight", R"({"weight":1})");
  ASSERT_EQ(weighted.status, 200) << weighted.text;
  EXPECT_EQ(weighted.body["weight"], 1);

  AdminResponse drained =
      admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"drain"})");
  ASSERT_EQ(drained.status, 200) << drained.text;
  EXPECT_EQ(drained.body["state"], "drain");
  EXPECT_EQ(drained.body["drained"], true);
  EXPECT_EQ(drained.body["connections"]["idle"], 0) << "idle pooled connections are closed";
  size_t before = one.requestCount();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(httpGet(proxy.port(), "/")->body, "two");
  EXPECT_EQ(one.requestCount(), before);

  AdminResponse removed = admin.call("DELETE", "/v1/clusters/app/hosts/h1");
  ASSERT_EQ(removed.status, 200) << removed.text;
  EXPECT_EQ(removed.body["removed"], true);
  auto cluster = admin.get("/v1/clusters/app").body;
  ASSERT_EQ(cluster["hosts"].size(), 1u);
  EXPECT_EQ(cluster["hosts"][0]["id"], "h2");

  // maint: out of traffic; ready again: back in.
  ASSERT_EQ(admin.call("PUT", "/v1/clusters/app/hosts/h2/state", R"({"state":"maint"})").status,
            200);
  EXPECT_EQ(httpGet(proxy.port(), "/")->status, 503);
  ASSERT_EQ(admin.call("PUT", "/v1/clusters/app/hosts/h2/state", R"({"state":"ready"})").status,
            200);
  EXPECT_EQ(httpGet(proxy.port(), "/")->status, 200);
  // Forced removal of a host in rotation.
  EXPECT_EQ(admin.call("DELETE", "/v1/clusters/app/hosts/h2?force=true").status, 200);
  EXPECT_EQ(httpGet(proxy.port(), "/")->status, 503);
}

TEST(AdminApi, RuntimeStateSurvivesReloadAndRestartWithStateFile) {
  TestBackend one(answers("one")), two(answers("two"));
  TempDir dir;
  std::string state_file = dir.path() + "/state.json";
  TestConfig cfg;
  cfg.hosts = {one.address()};
  cfg.admin = "admin: { listen: 127.0.0.1:0, state_file: \"" + state_file + "\" }\n";
  {
    ProxyProcess proxy(cfg.yaml());
    ASSERT_TRUE(proxy.ok()) << proxy.process().output();
    AdminClient admin(proxy.adminPort());
    ASSERT_EQ(admin
                  .call("POST", "/v1/clusters/app/hosts",
                        R"({"id":"h2","address":")" + two.address() + R"("})")
                  .status,
              201);
    ASSERT_EQ(admin.call("PUT", "/v1/clusters/app/hosts/h1/state", R"({"state":"drain"})").status,
              200);
    ASSERT_EQ(admin.call("PUT", "/v1/clusters/app/hosts/h2/weight", R"({"weight":5})").status, 200);
    AdminResponse reloaded = admin.call("POST", "/v1/config/reload");
    ASSERT_EQ(reloaded.status, 200) << reloaded.text;
    EXPECT_EQ(reloaded.body["config_version"], 2);
    EXPECT_EQ(admin.host("app", "h1")["state"], "drain");
    EXPECT_EQ(admin.host("app", "h2")["weight"], 5);
    // SIGHUP reloads too, with the same result.
    proxy.process().signal(SIGHUP);
    ASSERT_TRUE(proxy.process().waitForLine("configuration reloaded (version 3)", 10s));
    EXPECT_EQ(admin.host("app", "h1")["state"], "drain");
    for (int i = 0; i < 5; ++i) EXPECT_EQ(httpGet(proxy.port(), "/")->body, "two");
  }
  std::ifstream in(state_file);
  ASSERT_TRUE(in.good()) << "state file written";
  ProxyProcess again(cfg.yaml());
  ASSERT_TRUE(again.ok()) << again.process().output();
  AdminClient admin(again.adminPort());
  EXPECT_EQ(admin.host("app", "h1")["state"], "drain");
  EXPECT_EQ(admin.host("app", "h2")["weight"], 5);
  EXPECT_EQ(admin.host("app", "h2")["address"], two.address());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(httpGet(again.port(), "/")->body, "two");
}

// lbctl against a real lbproxy: global options after the subcommand, and names that the
// operator types reach the API as one path segment each, whatever they contain.
TEST(Lbctl, OptionsAfterTheSubcommandAndEscapedNames) {
  TestBackend b(answers("b"));
  TestConfig cfg;
  cfg.hosts = {b.address()};
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.adminPort());
  auto lbctl = [&](std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {LB_CTL_BIN, "--proxy", url});
    return runToExit(args, 10s, out);
  };

  std::string out;
  ASSERT_EQ(lbctl({"hosts", "app", "-o", "json"}, &out), 0) << out;
  nlohmann::json hosts = nlohmann::json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_FALSE(hosts.is_discarded()) << out;
  EXPECT_EQ(hosts["hosts"][0]["id"], "h1");

  // "h1/../../config/reload" must not become another path (a reload, or h1's state).
  EXPECT_EQ(lbctl({"drain", "app", "h1/../../config/reload"}, &out), 1) << out;
  EXPECT_NE(out.find("no host \"h1/../../config/reload\""), std::string::npos) << out;
  EXPECT_EQ(AdminClient(proxy.adminPort()).host("app", "h1")["state"], "ready");
  EXPECT_EQ(lbctl({"weight", "app", "h1?x=1", "3"}, &out), 1) << out;
  EXPECT_NE(out.find("no host \"h1?x=1\""), std::string::npos) << out;

  ASSERT_EQ(lbctl({"drain", "app", "h1", "-o", "json"}, &out), 0) << out;
  EXPECT_EQ(AdminClient(proxy.adminPort()).host("app", "h1")["state"], "drain");
}

}  // namespace
}  // namespace lb::test
