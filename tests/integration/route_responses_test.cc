// Per-route responses and headers (docs/routing.md): redirects, fixed responses, header edits
// on the request and the response, and JSON error bodies, on a real lbproxy with real backends,
// over HTTP/1.1 and HTTP/2, and followed by curl as a client would.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/admin_client.h"
#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

std::optional<ClientResponse> get(uint16_t port, const std::string& target,
                                  const std::string& host = "shop.test",
                                  const std::string& extra = "",
                                  const std::string& method = "GET") {
  TestClient c(port);
  if (!c.send(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n"))
    return std::nullopt;
  return c.read(method == "HEAD");
}

TEST(RouteResponses, RedirectsKeepOrReplaceEachPartOfTheUrl) {
  TestBackend app(answers("app"));
  TestConfig cfg;
  cfg.hosts = {app.address()};
  cfg.access_log = "";
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  cfg.routes =
      "      - name: moved\n        match: { path_prefix: /old }\n"
      "        redirect: { prefix: /new, status: 308 }\n"
      "      - name: here\n        match: { path_prefix: /new }\n"
      "        response: { body: \"you found it\\n\" }\n"
      "      - name: secure\n        match: { host: plain.test, path_prefix: / }\n"
      "        redirect: { scheme: https }\n"
      "      - name: elsewhere\n        match: { host: www.test, path_prefix: / }\n"
      "        redirect: { host: shop.test, port: 8443, path: /home, strip_query: true, status: "
      "302 }\n"
      "      - match: { path_prefix: / }\n        cluster: app\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  auto r = get(proxy.port(), "/a/b?x=1", "plain.test:8080");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 301);
  ASSERT_TRUE(r->header("location"));
  EXPECT_EQ(*r->header("location"), "https://plain.test/a/b?x=1");
  EXPECT_EQ(*r->header("content-length"), "0");
  EXPECT_TRUE(r->header("x-request-id"));
  r = get(proxy.port(), "/p?q=1", "www.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(*r->header("location"), "http://shop.test:8443/home");
  r = get(proxy.port(), "/old/cart?id=7");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 308);
  EXPECT_EQ(*r->header("location"), "http://shop.test/new/cart?id=7");
  // A request with a body is answered without it and the connection closes after.
  TestClient post(proxy.port());
  ASSERT_TRUE(post.send("POST /old/x HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\n"));
  r = post.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 308);
  EXPECT_TRUE(post.waitClosed());
  EXPECT_TRUE(app.requests().empty());  // nothing went to the backend

  // curl follows the redirect to the fixed response. (Over h2c only one request per curl:
  // Debian's curl 7.88.1 breaks a reused prior-knowledge connection, curl PR #10643.)
  const std::string base = "http://127.0.0.1:" + std::to_string(proxy.port());
  std::string out;
  ASSERT_EQ(runShell("curl -s -L -w '%{http_code} %{num_redirects}' " + base + "/old/page", &out),
            0);
  EXPECT_EQ(out, "you found it\n200 1");
  out.clear();
  ASSERT_EQ(runShell("curl -s --http2-prior-knowledge -D - " + base + "/old/page", &out), 0);
  EXPECT_NE(out.find("HTTP/2 308"), std::string::npos) << out;
  EXPECT_NE(out.find("location: " + base + "/new/page"), std::string::npos) << out;
}

TEST(RouteResponses, AMaintenanceResponseOnBothProtocolsAndHeadWithoutBody) {
  TestConfig cfg;
  cfg.access_log = "access_log: { path: /dev/stdout }\n";
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  cfg.routes =
      "      - name: maintenance\n        match: { path_prefix: / }\n"
      "        response: { status: 503, body: \"<h1>Back soon</h1>\", content_type: text/html, "
      "headers: { Retry-After: \"600\", Cache-Control: no-store } }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto r = get(proxy.port(), "/checkout");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "<h1>Back soon</h1>");
  EXPECT_EQ(*r->header("content-type"), "text/html");
  EXPECT_EQ(*r->header("retry-after"), "600");
  EXPECT_EQ(*r->header("cache-control"), "no-store");
  r = get(proxy.port(), "/", "shop.test", "", "HEAD");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "");
  std::string out;
  ASSERT_EQ(runShell("curl -s --http2-prior-knowledge -D - http://127.0.0.1:" +
                         std::to_string(proxy.port()) + "/",
                     &out),
            0);
  EXPECT_NE(out.find("HTTP/2 503"), std::string::npos) << out;
  EXPECT_NE(out.find("retry-after: 600"), std::string::npos) << out;
  EXPECT_NE(out.find("<h1>Back soon</h1>"), std::string::npos) << out;
  // The access log has the answer, and no cluster or upstream.
  EXPECT_TRUE(proxy.process().waitForLine("\"path\":\"/checkout\",\"status\":503,", 5s));
  EXPECT_TRUE(
      proxy.process().waitForLine("\"cluster\":\"\",\"destination\":\"\",\"upstream\":\"\"", 5s));
  // A fixed-response route has no destinations to split.
  auto put = AdminClient(proxy.adminPort())
                 .call("PUT", "/v1/routes/maintenance/destinations",
                       R"({"destinations":[{"cluster":"app","weight":1}]})");
  EXPECT_EQ(put.status, 409) << put.text;
  EXPECT_NE(put.text.find("answers by itself"), std::string::npos) << put.text;
}

TEST(RouteResponses, HeaderEditValuesNameTheRequestsVariables) {
  TestBackend app(answers("ok"));
  TestConfig cfg;
  cfg.hosts = {app.address()};
  cfg.access_log = "";
  cfg.routes =
      "      - name: api\n        match: { path_prefix: / }\n        cluster: app\n"
      "        request_headers: { set: { X-Real-IP: \"${client_ip}\", "
      "X-Origin: \"${scheme}://${host}\", X-Cost: \"$5 {x} $\" } }\n"
      "        response_headers: { set: { X-Served-By: \"${upstream} via ${route}\", "
      "X-Trace: \"id=${request_id}\" } }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();
  auto r = get(proxy.port(), "/x", "shop.test:8080", "X-Request-Id: abc-1\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(*r->header("x-served-by"), "h1 via api");
  EXPECT_EQ(*r->header("x-trace"), "id=abc-1");
  ASSERT_EQ(app.requests().size(), 1u);
  const BackendRequest seen = app.requests()[0];  // a copy: requests() returns one
  EXPECT_EQ(*seen.header("x-real-ip"), "127.0.0.1");
  EXPECT_EQ(*seen.header("x-origin"), "http://shop.test");
  EXPECT_EQ(*seen.header("x-cost"), "$5 {x} $");  // no variable: as written
}

TEST(RouteResponses, HeaderEditsOnTheRequestAndTheResponseAndJsonErrors) {
  TestBackend app([](const BackendRequest&, BackendConnection& conn) {
    conn.write(simpleResponse(200, "ok", "Server: tomcat/9\r\nX-Powered-By: servlet\r\n"));
  });
  TestConfig cfg;
  cfg.hosts = {app.address()};
  cfg.access_log = "";
  cfg.listener_extra = "    http2: { cleartext: true }\n";
  const std::string edits =
      "        errors: json\n"
      "        request_headers: { set: { X-Env: prod }, remove: [X-Debug] }\n"
      "        response_headers: { set: { Strict-Transport-Security: max-age=63072000 }, "
      "remove: [Server, x-powered-by] }\n";
  cfg.routes = "      - name: api\n        match: { path_prefix: /api }\n        cluster: app\n" +
               edits +
               "      - name: broken\n        match: { path_prefix: /broken }\n"
               "        cluster: gone\n" +
               edits + "      - match: { path_prefix: / }\n        cluster: app\n";
  cfg.clusters_extra = "  - name: gone\n    hosts:\n      - { id: g, address: \"127.0.0.1:" +
                       std::to_string(refusedPort()) + "\" }\n";
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  auto r = get(proxy.port(), "/api/x", "shop.test", "X-Env: dev\r\nX-Debug: 1\r\nX-Keep: k\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(*r->header("strict-transport-security"), "max-age=63072000");
  EXPECT_FALSE(r->header("server"));
  EXPECT_FALSE(r->header("x-powered-by"));
  ASSERT_EQ(app.requests().size(), 1u);
  const BackendRequest seen = app.requests()[0];  // a copy: requests() returns one
  EXPECT_EQ(seen.headerCount("x-env"), 1u);
  EXPECT_EQ(*seen.header("x-env"), "prod");
  EXPECT_FALSE(seen.header("x-debug"));
  EXPECT_EQ(*seen.header("x-keep"), "k");
  // Another route is left alone.
  r = get(proxy.port(), "/other", "shop.test", "X-Debug: 1\r\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->header("server"));
  EXPECT_FALSE(r->header("strict-transport-security"));
  EXPECT_TRUE(app.requests()[1].header("x-debug"));

  // lbproxy's own error on a JSON route: a JSON body, the response edits applied too.
  r = get(proxy.port(), "/broken", "shop.test", "X-Request-Id: id-\"quoted\"\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(*r->header("content-type"), "application/json");
  EXPECT_EQ(*r->header("strict-transport-security"), "max-age=63072000");
  nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << r->body;
  EXPECT_EQ(body["error"]["status"], 502);
  EXPECT_EQ(body["error"]["reason"], "Bad Gateway");
  EXPECT_EQ(body["error"]["request_id"], *r->header("x-request-id"));
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  // Over HTTP/2 the same.
  std::string out;
  ASSERT_EQ(runShell("curl -s --http2-prior-knowledge http://127.0.0.1:" +
                         std::to_string(proxy.port()) + "/broken",
                     &out),
            0);
  body = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << out;
  EXPECT_EQ(body["error"]["status"], 502);
}

}  // namespace
}  // namespace lb::test
