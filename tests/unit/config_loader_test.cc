// Each validation rule of the config loader, with the exact place and field it reports.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/loader.h"
#include "config/values.h"
#include "tests/support/test_util.h"

namespace lb::config {
namespace {

const char* kValid = R"(workers: 2
shutdown_timeout: 5s
listeners:
  - name: public
    listen: 127.0.0.1:8080
    request_headers_timeout: 250ms
    max_header_bytes: 16KiB
    routes:
      - match: { host: "*.example.com", path_prefix: /api }
        cluster: app
        timeout: 3s
      - cluster: app
clusters:
  - name: app
    balancer: ring_hash
    hash_on: { cookie: session }
    hosts:
      - { id: app-1, address: 127.0.0.1:9001, weight: 3 }
      - { id: app-2, address: "[::1]:9002" }
access_log: { enabled: false }
)";

std::vector<std::string> errorsOf(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& e : loadProxyConfigString(yaml, "t.yaml").errors) out.push_back(e.toString());
  return out;
}

// Replaces one line of the valid config and expects exactly one error, at that place.
void expectSingleError(const std::string& from, const std::string& to,
                       const std::string& expected) {
  std::string yaml = kValid;
  size_t at = yaml.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  yaml.replace(at, from.size(), to);
  auto errors = errorsOf(yaml);
  ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(errors);
  EXPECT_EQ(errors[0], expected);
}

TEST(ConfigLoader, ValidConfigFillsTheModel) {
  LoadResult r = loadProxyConfigString(kValid, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const ProxyConfig& c = r.config;
  EXPECT_EQ(c.workers, 2u);
  EXPECT_EQ(c.shutdown_timeout, Duration(5000));
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].request_headers_timeout, Duration(250));
  EXPECT_EQ(c.listeners[0].max_header_bytes, 16384u);
  EXPECT_EQ(c.listeners[0].max_request_line, 8192u) << "default";
  ASSERT_EQ(c.listeners[0].routes.size(), 2u);
  EXPECT_EQ(c.listeners[0].routes[0].match.host, "*.example.com");
  EXPECT_EQ(c.listeners[0].routes[0].timeout, Duration(3000));
  EXPECT_EQ(c.listeners[0].routes[1].match.path_prefix, "/") << "default prefix";
  EXPECT_EQ(c.clusters[0].balancer, BalancerKind::kRingHash);
  EXPECT_EQ(c.clusters[0].hash_on.cookie, "session");
  EXPECT_EQ(c.clusters[0].hosts[0].weight, 3u);
  EXPECT_EQ(c.clusters[0].hosts[1].weight, 1u) << "default";
  EXPECT_EQ(c.clusters[0].connect_timeout, Duration(1000)) << "default";
  EXPECT_FALSE(c.access_log.enabled);
}

TEST(ConfigLoader, UnknownKeyIsAnError) {
  expectSingleError("    max_header_bytes: 16KiB", "    max_header_byte: 16KiB",
                    "t.yaml:7:5: listeners[0].max_header_byte: unknown field \"max_header_byte\" "
                    "(expected one of: name, listen, request_headers_timeout, idle_timeout, "
                    "max_request_line, max_header_bytes, max_headers, max_body_bytes, tls, http2, "
                    "proxy_protocol, routes)");
}

TEST(ConfigLoader, UnknownClusterNamesRouteAndPlace) {
  expectSingleError("      - cluster: app\n", "      - cluster: api\n",
                    "t.yaml:12:18: listeners[0].routes[1].cluster: unknown cluster \"api\"");
}

TEST(ConfigLoader, Durations) {
  expectSingleError("timeout: 3s", "timeout: 3",
                    "t.yaml:11:18: listeners[0].routes[0].timeout: invalid duration \"3\" (use a "
                    "number with ms, s, m or h, e.g. 250ms)");
  expectSingleError("timeout: 3s", "timeout: 0ms",
                    "t.yaml:11:18: listeners[0].routes[0].timeout: must be greater than 0");
  EXPECT_EQ(parseDuration("250ms"), Duration(250));
  EXPECT_EQ(parseDuration("2s"), Duration(2000));
  EXPECT_EQ(parseDuration("5m"), Duration(300000));
  EXPECT_EQ(parseDuration("1h"), Duration(3600000));
  EXPECT_FALSE(parseDuration("1.5s"));
  EXPECT_FALSE(parseDuration("-1s"));
  EXPECT_FALSE(parseDuration("s"));
}

TEST(ConfigLoader, UpgradesAndTunnelIdleTimeout) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("        timeout: 3s\n"), 20,
               "        timeout: 3s\n        upgrades: [WebSocket, x-raw]\n"
               "        tunnel_idle_timeout: 10m\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const auto& routes = r.config.listeners[0].routes;
  EXPECT_EQ(routes[0].upgrades, (std::vector<std::string>{"websocket", "x-raw"}));
  EXPECT_EQ(routes[0].tunnel_idle_timeout, Duration(600000));
  EXPECT_EQ(routes[1].upgrades, std::vector<std::string>{"websocket"}) << "default";
  EXPECT_EQ(routes[1].tunnel_idle_timeout, Duration(3600000)) << "default";

  expectSingleError("        timeout: 3s\n", "        timeout: 3s\n        upgrades: websocket\n",
                    "t.yaml:12:19: listeners[0].routes[0].upgrades: expected a list of protocol "
                    "names, e.g. [websocket]");
  // Every error at once, each at its list element.
  yaml = kValid;
  yaml.replace(yaml.find("        timeout: 3s\n"), 20,
               "        timeout: 3s\n        upgrades: [websocket, \"web socket\", h2c]\n");
  auto errors = errorsOf(yaml);
  ASSERT_EQ(errors.size(), 2u) << testing::PrintToString(errors);
  EXPECT_EQ(errors[0],
            "t.yaml:12:31: listeners[0].routes[0].upgrades[1]: invalid protocol name \"web "
            "socket\" (a token, e.g. websocket)");
  EXPECT_EQ(errors[1],
            "t.yaml:12:45: listeners[0].routes[0].upgrades[2]: h2c is not tunnelled: enable "
            "http2.cleartext on the listener instead");
}

TEST(ConfigLoader, ProxyProtocol) {
  std::string yaml = kValid;
  const std::string at = "    max_header_bytes: 16KiB\n";
  yaml.replace(yaml.find(at), at.size(),
               "    max_header_bytes: 16KiB\n"
               "    proxy_protocol: { trusted: [10.0.0.0/8, \"2001:db8::/32\"], timeout: 2s }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const ProxyProtocolConfig& p = r.config.listeners[0].proxy_protocol;
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.trusted, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
  EXPECT_EQ(p.timeout, Duration(2000));

  expectSingleError("    max_header_bytes: 16KiB\n",
                    "    max_header_bytes: 16KiB\n    proxy_protocol: { timeout: 2s }\n",
                    "t.yaml:8:21: listeners[0].proxy_protocol.trusted: missing required field "
                    "(the networks of the balancers that send the header)");
  expectSingleError("    max_header_bytes: 16KiB\n",
                    "    max_header_bytes: 16KiB\n    proxy_protocol: { trusted: [10.0.0.0/33] }\n",
                    "t.yaml:8:33: listeners[0].proxy_protocol.trusted[0]: invalid network "
                    "\"10.0.0.0/33\" (an IP address or CIDR, e.g. 10.0.0.0/8)");
}

TEST(ConfigLoader, SendProxyProtocolToBackends) {
  EXPECT_EQ(loadProxyConfigString(kValid, "t.yaml").config.clusters[0].send_proxy_protocol, 0);
  for (auto [text, version] : {std::pair{"v1", 1}, {"v2", 2}, {"off", 0}}) {
    std::string yaml = kValid;
    const std::string at = "    hash_on: { cookie: session }\n";
    yaml.replace(yaml.find(at), at.size(), at + "    send_proxy_protocol: " + text + "\n");
    LoadResult r = loadProxyConfigString(yaml, "t.yaml");
    ASSERT_TRUE(r.ok()) << r.errors[0].toString();
    EXPECT_EQ(r.config.clusters[0].send_proxy_protocol, version) << text;
  }
  expectSingleError("    hash_on: { cookie: session }\n",
                    "    hash_on: { cookie: session }\n    send_proxy_protocol: v3\n",
                    "t.yaml:17:26: clusters[0].send_proxy_protocol: unknown PROXY protocol "
                    "version \"v3\" (expected v1, v2 or off)");
}

TEST(ConfigLoader, RetryPolicyAndBudget) {
  std::string yaml = kValid;
  const std::string at = "        timeout: 3s\n";
  yaml.replace(yaml.find(at), at.size(),
               at + "        retry: { on: [5xx, reset, timeout, gateway_error], statuses: [429], "
                    "non_idempotent: true, per_try_timeout: 500ms, buffer_body: 8KiB }\n");
  const std::string cl = "    hash_on: { cookie: session }\n";
  yaml.replace(yaml.find(cl), cl.size(),
               cl + "    retry_budget: { percent: 50, min_concurrency: 1 }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const RetryConfig& p = r.config.listeners[0].routes[0].retry;
  EXPECT_TRUE(p.on_5xx && p.on_reset && p.on_timeout && p.on_gateway_error);
  EXPECT_EQ(p.statuses, std::vector<int>{429});
  EXPECT_TRUE(p.non_idempotent);
  EXPECT_EQ(p.per_try_timeout, Duration(500));
  EXPECT_EQ(p.buffer_body, 8192u);
  EXPECT_FALSE(r.config.listeners[0].routes[1].retry.any());  // no policy: connect failures only
  EXPECT_EQ(r.config.clusters[0].retry_budget.percent, 50u);
  EXPECT_EQ(r.config.clusters[0].retry_budget.min_concurrency, 1u);
  const RetryBudget defaults =
      loadProxyConfigString(kValid, "t.yaml").config.clusters[0].retry_budget;
  EXPECT_EQ(defaults.percent, 20u);  // Envoy's defaults
  EXPECT_EQ(defaults.min_concurrency, 3u);

  expectSingleError(at, at + "        retry: { on: [5xx, sometimes] }\n",
                    "t.yaml:12:28: listeners[0].routes[0].retry.on[1]: unknown retry condition "
                    "\"sometimes\" (expected 5xx, gateway_error, reset or timeout)");
  expectSingleError(at, at + "        retry: { on: [reset], statuses: [42] }\n",
                    "t.yaml:12:42: listeners[0].routes[0].retry.statuses[0]: invalid status "
                    "\"42\" (a final status code 200-599)");
  expectSingleError(at, at + "        retry: { per_try_timeout: 1s }\n",
                    "t.yaml:12:16: listeners[0].routes[0].retry.on: a retry policy needs a "
                    "condition: on: [5xx, gateway_error, reset, timeout] or statuses");
  expectSingleError(cl, cl + "    retry_budget: { percent: 101 }\n",
                    "t.yaml:17:30: clusters[0].retry_budget.percent: must be between 0 and 100");
}

TEST(ConfigLoader, RouteConditions) {
  std::string yaml = kValid;
  const std::string at = "      - match: { host: \"*.example.com\", path_prefix: /api }\n";
  ASSERT_NE(yaml.find(at), std::string::npos);
  yaml.replace(yaml.find(at), at.size(),
               "      - match: { path_prefix: /api, methods: [GET, POST], headers: [{ name: "
               "X-Canary, exact: \"1\" }, { name: X-Bot, present: false }], cookies: [{ name: "
               "beta, prefix: y }], query: [{ name: v, regex: \"[0-9]+\" }] }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const RouteMatch& m = r.config.listeners[0].routes[0].match;
  EXPECT_EQ(m.methods, (std::vector<std::string>{"GET", "POST"}));
  ASSERT_EQ(m.headers.size(), 2u);
  EXPECT_EQ(m.headers[0].name, "X-Canary");
  EXPECT_EQ(m.headers[0].kind, ValueMatch::Kind::kExact);
  EXPECT_EQ(m.headers[0].value, "1");
  EXPECT_EQ(m.headers[1].kind, ValueMatch::Kind::kAbsent);
  EXPECT_EQ(m.cookies[0].kind, ValueMatch::Kind::kPrefix);
  EXPECT_EQ(m.query[0].kind, ValueMatch::Kind::kRegex);
  EXPECT_TRUE(m.conditional());
  EXPECT_FALSE(r.config.listeners[0].routes[1].match.conditional());

  // Every error at once, each with its place.
  std::string bad = kValid;
  bad.replace(bad.find(at), at.size(),
              "      - match: { path_prefix: /api, methods: [get], headers: [{ name: X, regex: "
              "\"(unclosed\" }, { name: Y, exact: a, prefix: b }], query: [{ exact: 1 }] }\n");
  LoadResult b = loadProxyConfigString(bad, "t.yaml");
  ASSERT_EQ(b.errors.size(), 4u);
  EXPECT_EQ(b.errors[0].toString(),
            "t.yaml:9:47: listeners[0].routes[0].match.methods[0]: invalid method \"get\" "
            "(upper-case, e.g. GET or POST)");
  EXPECT_EQ(b.errors[1].toString(),
            "t.yaml:9:81: listeners[0].routes[0].match.headers[0].regex: invalid regular "
            "expression \"(unclosed\": missing ): (unclosed");
  EXPECT_EQ(b.errors[2].toString(),
            "t.yaml:9:96: listeners[0].routes[0].match.headers[1]: set exactly one of exact, "
            "prefix, regex or present");
  EXPECT_EQ(b.errors[3].toString(),
            "t.yaml:9:139: listeners[0].routes[0].match.query[0].name: missing required field");
}

TEST(ConfigLoader, WeightedDestinations) {
  std::string yaml = kValid;
  const std::string at = "        cluster: app\n        timeout: 3s\n";
  ASSERT_NE(yaml.find(at), std::string::npos);
  yaml.replace(yaml.find(at), at.size(),
               "        destinations: [{ cluster: app, subset: { version: 1.0.0 }, weight: 95 }, "
               "{ cluster: app, subset: { version: 1.1.0, zone: b }, weight: 5 }]\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const RouteConfig& route = r.config.listeners[0].routes[0];
  ASSERT_EQ(route.destinations.size(), 2u);
  EXPECT_EQ(route.cluster, "app");  // the first destination's, for metrics labels
  EXPECT_EQ(route.destinations[0].weight, 95u);
  EXPECT_EQ(route.destinations[1].label(), "app{version=1.1.0,zone=b}");
  // A plain `cluster:` is one destination of weight 1.
  const RouteConfig& plain = r.config.listeners[0].routes[1];
  ASSERT_EQ(plain.destinations.size(), 1u);
  EXPECT_EQ(plain.destinations[0].label(), "app");
  EXPECT_EQ(plain.destinations[0].weight, 1u);

  // Every error at once, each with its place.
  std::string bad = kValid;
  bad.replace(bad.find(at), at.size(),
              "        cluster: app\n        destinations: [{ cluster: nope }, { cluster: app, "
              "weight: 10001 }, { cluster: app, subset: {} }]\n");
  const std::string last = "      - cluster: app\n";
  bad.replace(bad.find(last), last.size(),
              "      - destinations: [{ cluster: app, weight: 0 }, { weight: 0 }]\n");
  EXPECT_EQ(
      errorsOf(bad),
      (std::vector<std::string>{
          "t.yaml:10:18: listeners[0].routes[0].cluster: set either cluster or destinations, "
          "not both",
          "t.yaml:11:35: listeners[0].routes[0].destinations[0].cluster: unknown cluster \"nope\"",
          "t.yaml:11:67: listeners[0].routes[0].destinations[1].weight: must be between 0 and "
          "10000",
          "t.yaml:11:76: listeners[0].routes[0].destinations[2]: destination \"app\" is listed "
          "twice",
          "t.yaml:11:100: listeners[0].routes[0].destinations[2].subset: expected a mapping of "
          "host labels to values, e.g. {version: 1.1.0}",
          "t.yaml:12:23: listeners[0].routes[1].destinations: the weights sum to 0: at least one "
          "must be above 0",
          "t.yaml:12:53: listeners[0].routes[1].destinations[1].cluster: missing required field",
      }));
}

TEST(ConfigLoader, StickySessions) {
  std::string yaml = kValid;
  const std::string at = "        timeout: 3s\n";
  yaml.replace(yaml.find(at), at.size(),
               at + "        sticky: { cookie: lb_shop, to: destination, ttl: 90s, path: /shop, "
                    "domain: .example.com, secure: true, same_site: none, http_only: false }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const StickyConfig& st = r.config.listeners[0].routes[0].sticky;
  EXPECT_TRUE(st.enabled);
  EXPECT_EQ(st.cookie, "lb_shop");
  EXPECT_EQ(st.to, StickyConfig::To::kDestination);
  EXPECT_EQ(st.ttl, Duration(90000));
  EXPECT_EQ(st.path, "/shop");
  EXPECT_EQ(st.domain, ".example.com");
  EXPECT_TRUE(st.secure);
  EXPECT_FALSE(st.http_only);
  EXPECT_EQ(st.same_site, StickyConfig::SameSite::kNone);
  EXPECT_FALSE(r.config.listeners[0].routes[1].sticky.enabled);

  // Every error at once, each with its place.
  std::string bad = kValid;
  bad.replace(bad.find(at), at.size(),
              at + "        sticky: { cookie: \"a b\", to: server, path: shop, domain: \"a_b\", "
                   "same_site: none, colour: red }\n");
  const std::string last = "      - cluster: app\n";
  bad.replace(bad.find(last), last.size(),
              last + "        sticky: { ttl: -1s, same_site: loose }\n");
  EXPECT_EQ(
      errorsOf(bad),
      (std::vector<std::string>{
          "t.yaml:12:27: listeners[0].routes[0].sticky.cookie: invalid cookie name \"a b\" "
          "(letters, digits and !#$%&'*+-.^_`|~)",
          "t.yaml:12:38: listeners[0].routes[0].sticky.to: unknown value \"server\" (expected "
          "host or destination)",
          "t.yaml:12:52: listeners[0].routes[0].sticky.path: invalid cookie path \"shop\" (starts "
          "with /, no spaces or ;)",
          "t.yaml:12:66: listeners[0].routes[0].sticky.domain: invalid cookie domain \"a_b\" (a "
          "lower-case host name)",
          "t.yaml:12:84: listeners[0].routes[0].sticky.same_site: none needs secure: true "
          "(browsers drop such a cookie)",
          "t.yaml:12:90: listeners[0].routes[0].sticky.colour: unknown field \"colour\" (expected "
          "one of: cookie, to, ttl, path, domain, secure, http_only, same_site)",
          "t.yaml:14:17: listeners[0].routes[1].sticky.cookie: missing required field",
          "t.yaml:14:24: listeners[0].routes[1].sticky.ttl: invalid duration \"-1s\" (use a "
          "number with ms, s, m or h, e.g. 250ms)",
          "t.yaml:14:40: listeners[0].routes[1].sticky.same_site: unknown value \"loose\" "
          "(expected lax, strict or none)",
      }));
}

TEST(ConfigLoader, HeaderEditVariables) {
  const std::string at = "        timeout: 3s\n";
  std::string yaml = kValid;
  yaml.replace(yaml.find(at), at.size(),
               at + "        request_headers: { set: { X-Real-IP: \"${client_ip}\" } }\n"
                    "        response_headers: { set: { X-By: \"${upstream}/${route}\" } }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  expectSingleError(at, at + "        request_headers: { set: { X-A: \"${client}\" } }\n",
                    "t.yaml:12:40: listeners[0].routes[0].request_headers.set.X-A: unknown "
                    "variable ${client} (client_ip, request_id, host, scheme, route)");
  expectSingleError(at, at + "        request_headers: { set: { X-A: \"${upstream}\" } }\n",
                    "t.yaml:12:40: listeners[0].routes[0].request_headers.set.X-A: unknown "
                    "variable ${upstream} (client_ip, request_id, host, scheme, route)");
  expectSingleError(at, at + "        response_headers: { set: { X-A: \"a ${host\" } }\n",
                    "t.yaml:12:41: listeners[0].routes[0].response_headers.set.X-A: "
                    "unterminated ${ (variables are ${name})");
}

TEST(ConfigLoader, RedirectsFixedResponsesAndHeaderEdits) {
  std::string yaml = kValid;
  const std::string at = "      - cluster: app\n";
  yaml.replace(
      yaml.find(at), at.size(),
      "      - match: { path_prefix: /old }\n"
      "        redirect: { scheme: https, host: new.example.com, port: 8443, prefix: /new, "
      "strip_query: true, status: 308 }\n"
      "      - match: { path_prefix: /down }\n"
      "        response: { status: 503, body: \"back soon\", content_type: text/html, "
      "headers: { Retry-After: \"600\" } }\n"
      "      - cluster: app\n"
      "        errors: json\n"
      "        request_headers: { set: { X-Env: prod }, remove: [X-Debug] }\n"
      "        response_headers: { set: { Strict-Transport-Security: max-age=63072000 }, "
      "remove: [Server] }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const auto& routes = r.config.listeners[0].routes;
  ASSERT_EQ(routes.size(), 4u);
  const RedirectConfig& rd = routes[1].redirect;
  EXPECT_TRUE(rd.enabled);
  EXPECT_EQ(rd.scheme, "https");
  EXPECT_EQ(rd.host, "new.example.com");
  EXPECT_EQ(rd.port, 8443);
  EXPECT_TRUE(rd.has_prefix);
  EXPECT_EQ(rd.prefix, "/new");
  EXPECT_TRUE(rd.strip_query);
  EXPECT_EQ(rd.status, 308);
  EXPECT_TRUE(routes[1].destinations.empty());
  EXPECT_EQ(routes[1].cluster, "");
  const FixedResponseConfig& fr = routes[2].response;
  EXPECT_TRUE(fr.enabled);
  EXPECT_EQ(fr.status, 503);
  EXPECT_EQ(fr.body, "back soon");
  EXPECT_EQ(fr.content_type, "text/html");
  ASSERT_EQ(fr.headers.size(), 1u);
  EXPECT_EQ(fr.headers[0].first, "Retry-After");
  const RouteConfig& api = routes[3];
  EXPECT_TRUE(api.json_errors);
  ASSERT_EQ(api.request_headers.set.size(), 1u);
  EXPECT_EQ(api.request_headers.set[0].second, "prod");
  EXPECT_EQ(api.request_headers.remove, std::vector<std::string>{"X-Debug"});
  EXPECT_EQ(api.response_headers.remove, std::vector<std::string>{"Server"});

  // Every error at once, each with its place.
  std::string bad = kValid;
  bad.replace(
      bad.find(at), at.size(),
      "      - redirect: { scheme: ftp, path: nope, prefix: /x, status: 305 }\n"
      "        cluster: app\n"
      "        sticky: { cookie: s }\n"
      "      - response: { status: 204, body: x, headers: { Content-Type: a/b } }\n"
      "        name: b\n"
      "      - cluster: app\n"
      "        name: c\n"
      "        errors: xml\n"
      "        request_headers: { set: { Host: x, \"X-A\": \"a\\nb\" }, remove: [X-Forwarded-For, "
      "\"a b\"] }\n"
      "        response_headers: { set: { Content-Length: \"1\" }, add: {} }\n");
  EXPECT_EQ(
      errorsOf(bad),
      (std::vector<std::string>{
          "t.yaml:12:29: listeners[0].routes[1].redirect.scheme: unknown value \"ftp\" (expected "
          "http or https)",
          "t.yaml:12:40: listeners[0].routes[1].redirect.path: invalid path \"nope\" (starts with "
          "/, no spaces, ? or #)",
          "t.yaml:12:54: listeners[0].routes[1].redirect.prefix: set either path or prefix, not "
          "both",
          "t.yaml:12:66: listeners[0].routes[1].redirect.status: expected 301, 302, 303, 307 or "
          "308",
          "t.yaml:13:18: listeners[0].routes[1].cluster: a route with redirect has no cluster",
          "t.yaml:14:17: listeners[0].routes[1].sticky: a route with redirect forwards nothing: no "
          "sticky",
          "t.yaml:15:40: listeners[0].routes[2].response.body: a 204 response has no body",
          "t.yaml:15:52: listeners[0].routes[2].response.headers: set Content-Type with "
          "content_type",
          "t.yaml:19:17: listeners[0].routes[3].errors: unknown value \"xml\" (expected text or "
          "json)",
          "t.yaml:20:35: listeners[0].routes[3].request_headers.set.Host: \"Host\" is lbproxy's to "
          "write; it cannot be set here",
          "t.yaml:20:51: listeners[0].routes[3].request_headers.set.X-A: invalid header value "
          "(control characters)",
          "t.yaml:20:70: listeners[0].routes[3].request_headers.remove[0]: \"X-Forwarded-For\" is "
          "lbproxy's to write; it cannot be removed here",
          "t.yaml:20:87: listeners[0].routes[3].request_headers.remove[1]: invalid header name "
          "\"a b\"",
          "t.yaml:21:36: listeners[0].routes[3].response_headers.set.Content-Length: "
          "\"Content-Length\" is lbproxy's to write; it cannot be set here",
          "t.yaml:21:59: listeners[0].routes[3].response_headers.add: unknown field \"add\" "
          "(expected one of: set, remove)",
      }));
}

TEST(ConfigLoader, RateLimits) {
  std::string yaml = kValid;
  const std::string at = "        timeout: 3s\n";
  yaml.replace(yaml.find(at), at.size(),
               at + "        rate_limit: { rate: 600/m, burst: 20, key: { header: X-Api-Key }, "
                    "dry_run: true, max_keys: 5000, headers: always }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const RateLimitConfig& rl = r.config.listeners[0].routes[0].rate_limit;
  EXPECT_TRUE(rl.headers_always);
  EXPECT_TRUE(rl.enabled);
  EXPECT_EQ(rl.requests, 600u);
  EXPECT_EQ(rl.period, Duration(60000));
  EXPECT_EQ(rl.burst, 20u);
  EXPECT_EQ(rl.key, RateLimitConfig::Key::kHeader);
  EXPECT_EQ(rl.header, "X-Api-Key");
  EXPECT_TRUE(rl.dry_run);
  EXPECT_EQ(rl.max_keys, 5000u);
  EXPECT_FALSE(r.config.listeners[0].routes[1].rate_limit.enabled);
  std::string by_route = kValid;
  by_route.replace(by_route.find(at), at.size(),
                   at + "        rate_limit: { rate: 5/h, key: route }\n");
  LoadResult r2 = loadProxyConfigString(by_route, "t.yaml");
  ASSERT_TRUE(r2.ok()) << r2.errors[0].toString();
  EXPECT_EQ(r2.config.listeners[0].routes[0].rate_limit.key, RateLimitConfig::Key::kRoute);
  EXPECT_EQ(r2.config.listeners[0].routes[0].rate_limit.period, Duration(3600000));
  EXPECT_FALSE(r2.config.listeners[0].routes[0].rate_limit.headers_always);
  expectSingleError(at, at + "        rate_limit: { rate: 1/s, headers: sometimes }\n",
                    "t.yaml:12:43: listeners[0].routes[0].rate_limit.headers: unknown value "
                    "\"sometimes\" (expected limited or always)");

  expectSingleError(at, at + "        rate_limit: { rate: 100 }\n",
                    "t.yaml:12:29: listeners[0].routes[0].rate_limit.rate: invalid rate "
                    "\"100\" (requests per s, m or h, e.g. 100/s or 600/m)");
  expectSingleError(at, at + "        rate_limit: { burst: 3 }\n",
                    "t.yaml:12:21: listeners[0].routes[0].rate_limit.rate: missing required "
                    "field");
  expectSingleError(at, at + "        rate_limit: { rate: 1/s, key: cookie }\n",
                    "t.yaml:12:39: listeners[0].routes[0].rate_limit.key: unknown key "
                    "\"cookie\" (expected client_address, route, or { header: Name })");
  expectSingleError(at, at + "        rate_limit: { rate: 1/s, key: { header: \"X Key\" } }\n",
                    "t.yaml:12:49: listeners[0].routes[0].rate_limit.key.header: invalid header "
                    "name \"X Key\"");
}

TEST(ConfigLoader, ClusterLimits) {
  std::string yaml = kValid;
  const std::string cl = "    hash_on: { cookie: session }\n";
  yaml.replace(yaml.find(cl), cl.size(),
               cl + "    limits: { max_requests_per_host: 200, max_connections_per_host: 250, "
                    "max_queued: 1000, queue_timeout: 2s }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const ClusterLimits& l = r.config.clusters[0].limits;
  EXPECT_EQ(l.max_requests_per_host, 200u);
  EXPECT_EQ(l.max_connections_per_host, 250u);
  EXPECT_EQ(l.max_queued, 1000u);
  EXPECT_EQ(l.queue_timeout, Duration(2000));
  const ClusterLimits none = loadProxyConfigString(kValid, "t.yaml").config.clusters[0].limits;
  EXPECT_FALSE(none.any());
  EXPECT_EQ(none.max_queued, 0u);
  EXPECT_EQ(none.queue_timeout, Duration(1000));

  expectSingleError(cl, cl + "    limits: { max_queued: 10 }\n",
                    "t.yaml:17:27: clusters[0].limits.max_queued: a queue needs a limit to wait "
                    "for: set max_requests_per_host or max_connections_per_host");
  expectSingleError(cl, cl + "    limits: { max_requests_per_host: 2000000 }\n",
                    "t.yaml:17:38: clusters[0].limits.max_requests_per_host: must be between 0 "
                    "and 1000000");
  expectSingleError(cl, cl + "    limits: { max_request_per_host: 5 }\n",
                    "t.yaml:17:15: clusters[0].limits.max_request_per_host: unknown field "
                    "\"max_request_per_host\" (expected one of: max_requests_per_host, "
                    "max_connections_per_host, max_queued, queue_timeout)");
}

TEST(ConfigLoader, NumbersAndSizes) {
  expectSingleError("workers: 2", "workers: two", "t.yaml:1:10: workers: invalid number \"two\"");
  expectSingleError("workers: 2", "workers: 1000",
                    "t.yaml:1:10: workers: must be between 0 and 256");
  expectSingleError(
      "max_header_bytes: 16KiB", "max_header_bytes: 16KB",
      "t.yaml:7:23: listeners[0].max_header_bytes: invalid number \"16KB\" (e.g. 8192 or 8KiB)");
  EXPECT_EQ(parseSize("1MiB"), 1048576u);
  EXPECT_EQ(parseSize("2GiB"), 2147483648u);
}

TEST(ConfigLoader, Addresses) {
  expectSingleError("listen: 127.0.0.1:8080", "listen: localhost:8080",
                    "t.yaml:5:13: listeners[0].listen: invalid address \"localhost:8080\" "
                    "(expected IP:PORT or [IPv6]:PORT)");
  expectSingleError("address: 127.0.0.1:9001", "address: 127.0.0.1:0",
                    "t.yaml:18:31: clusters[0].hosts[0].address: invalid address \"127.0.0.1:0\" "
                    "(expected IP:PORT or [IPv6]:PORT)");
  expectSingleError("address: \"[::1]:9002\"", "address: 127.0.0.1:9001",
                    "t.yaml:19:31: clusters[0].hosts[1].address: address \"127.0.0.1:9001\" is "
                    "listed twice in cluster \"app\"");
  auto v6 = parseHostPort("[::1]:80", false);
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(v6->port, 80);
  EXPECT_FALSE(parseHostPort("1.2.3.4", false));
  EXPECT_FALSE(parseHostPort("1.2.3.4:65536", false));
}

TEST(ConfigLoader, EnumsAndRequiredCompanions) {
  expectSingleError("balancer: ring_hash", "balancer: roundrobin",
                    "t.yaml:15:15: clusters[0].balancer: unknown balancer \"roundrobin\" (expected "
                    "round_robin, least_request, random or ring_hash)");
  expectSingleError("    hash_on: { cookie: session }\n", "",
                    "t.yaml:14:5: clusters[0].hash_on: ring_hash needs hash_on: { header: ... } or "
                    "{ cookie: ... }");
  expectSingleError("enabled: false", "enabled: nope",
                    "t.yaml:20:24: access_log.enabled: expected true or false, got \"nope\"");
}

TEST(ConfigLoader, DuplicatesAndPatterns) {
  expectSingleError(
      "id: app-2", "id: app-1",
      "t.yaml:19:15: clusters[0].hosts[1].id: duplicate host id \"app-1\" in cluster \"app\"");
  expectSingleError(
      "host: \"*.example.com\"", "host: \"Shop.Example.com\"",
      "t.yaml:9:24: listeners[0].routes[0].match.host: invalid host \"Shop.Example.com\" "
      "(lower-case name, or *.suffix for a wildcard)");
  expectSingleError("path_prefix: /api", "path_prefix: api",
                    "t.yaml:9:54: listeners[0].routes[0].match.path_prefix: must start with /");
  expectSingleError("shutdown_timeout: 5s\n", "shutdown_timeout: 5s\nworkers: 3\n",
                    "t.yaml:3:1: workers: duplicate field \"workers\"");
}

TEST(ConfigLoader, MissingRequiredFields) {
  expectSingleError("  - name: public\n    listen: 127.0.0.1:8080\n", "  - name: public\n",
                    "t.yaml:4:5: listeners[0].listen: missing required field");
  auto errors = errorsOf("workers: 1\n");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "t.yaml:1:1: clusters: missing required field");
  EXPECT_EQ(errors[1], "t.yaml:1:1: listeners: missing required field");
}

TEST(ConfigLoader, ReportsAllErrorsInFileOrder) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("workers: 2"), 10, "workers: x");
  yaml.replace(yaml.find("      - cluster: app\n"), 21, "      - cluster: nope\n");
  yaml.replace(yaml.find("balancer: ring_hash"), 19, "balancer: magic");
  auto errors = errorsOf(yaml);
  ASSERT_EQ(errors.size(), 3u) << testing::PrintToString(errors);
  EXPECT_NE(errors[0].find("t.yaml:1:10: workers"), std::string::npos);
  EXPECT_NE(errors[1].find("t.yaml:12:18: listeners[0].routes[1].cluster"), std::string::npos);
  EXPECT_NE(errors[2].find("t.yaml:15:15: clusters[0].balancer"), std::string::npos);
}

TEST(ConfigLoader, SyntaxErrorsAndUnreadableFiles) {
  auto syntax = errorsOf("listeners: [\n  - a\n");
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_NE(syntax[0].find("YAML syntax error"), std::string::npos) << syntax[0];
  EXPECT_EQ(syntax[0].rfind("t.yaml:", 0), 0u);

  auto missing = loadProxyConfigFile("/nonexistent/lb.yaml");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].toString(), "/nonexistent/lb.yaml:0:0: cannot read the file");

  auto empty = errorsOf("");
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0], "t.yaml:1:1: the file is empty");
}

TEST(ConfigLoader, ShippedExamplesAreValid) {
  for (const char* name : {"demo.yaml", "full.yaml"}) {
    auto r = loadProxyConfigFile(std::string(LB_SOURCE_DIR) + "/config/examples/" + name);
    EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.errors[0].toString());
  }
}

}  // namespace
}  // namespace lb::config

namespace lb::config {
namespace {

TEST(ConfigLoader, HealthOutlierSlowStartSloAndAdmin) {
  const std::string yaml = R"(listeners:
  - name: public
    listen: 127.0.0.1:8080
    routes:
      - name: orders
        match: { path_prefix: /api/orders }
        cluster: app
        slo: { mean: 300ms, p95: 500ms, p99: 1s, max_error_rate: 0.001 }
clusters:
  - name: app
    health_check: { path: /actuator/health, interval: 2s, timeout: 500ms, expected_statuses: [200, "300-399"] }
    outlier_detection: { consecutive_5xx: 4, base_ejection_time: 10s }
    slow_start: 30s
    hosts:
      - { id: a, address: 127.0.0.1:9001, labels: { version: "1.4.2" } }
admin: { listen: 127.0.0.1:9901, state_file: /tmp/x.json }
)";
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const ClusterConfig& c = r.config.clusters[0];
  EXPECT_TRUE(c.health_check.enabled);
  EXPECT_EQ(c.health_check.path, "/actuator/health");
  EXPECT_EQ(c.health_check.timeout, Duration(500));
  EXPECT_EQ(c.health_check.expected_statuses.size(), 2u);
  EXPECT_EQ(c.health_check.expected_statuses[1], std::make_pair(300, 399));
  EXPECT_TRUE(c.outlier_detection.enabled);
  EXPECT_EQ(c.outlier_detection.consecutive_5xx, 4u);
  EXPECT_EQ(c.slow_start, Duration(30000));
  EXPECT_EQ(c.hosts[0].labels.at("version"), "1.4.2");
  const RouteConfig& route = r.config.listeners[0].routes[0];
  EXPECT_EQ(route.name, "orders");
  EXPECT_EQ(route.slo.p99, Duration(1000));
  EXPECT_DOUBLE_EQ(route.slo.max_error_rate, 0.001);
  EXPECT_EQ(r.config.admin.state_file, "/tmp/x.json");

  std::string bad = yaml;
  bad.replace(bad.find("timeout: 500ms"), 14, "timeout: 5s");
  bad.replace(bad.find("\"300-399\""), 9, "\"399-300\"");
  bad.replace(bad.find("listen: 127.0.0.1:9901"), 22, "listen: 0.0.0.0:9901");
  auto errors = errorsOf(bad);
  ASSERT_EQ(errors.size(), 3u) << testing::PrintToString(errors);
  EXPECT_EQ(errors[0],
            "t.yaml:11:68: clusters[0].health_check.timeout: must not be longer than interval");
  EXPECT_EQ(errors[1],
            "t.yaml:11:97: clusters[0].health_check.expected_statuses[1]: invalid status "
            "\"399-300\" (a code 100-599, or a range like 200-399)");
  EXPECT_EQ(errors[2],
            "t.yaml:16:18: admin.listen: a non-loopback admin address needs admin.token_file "
            "(the API can drain and remove hosts)");
}

}  // namespace
}  // namespace lb::config

namespace lb::config {
namespace {

// A TLS listener's certificates are read at load time, so `--check` and a reload report a
// missing file or a key that is not the certificate's, at the certificate's place.
TEST(ConfigLoader, TlsCertificatesAreCheckedAtLoad) {
  std::string dir = test::makeTempDir("lbtls");
  ASSERT_FALSE(dir.empty());
  ASSERT_TRUE(test::makeCertificate(dir, "a", {"a.test", "*.a.test"}));
  ASSERT_TRUE(test::makeCertificate(dir, "b", {"b.test"}));
  std::string yaml = R"(listeners:
  - name: public
    listen: 127.0.0.1:8443
    tls:
      min_version: "1.3"
      handshake_timeout: 3s
      certificates:
        - { cert: a.crt, key: a.key }
        - { cert: DIR/b.crt, key: DIR/b.key }
    http2: { max_concurrent_streams: 50, stream_idle_timeout: 20s }
    routes:
      - cluster: app
clusters:
  - name: app
    hosts:
      - { id: a, address: 127.0.0.1:9001 }
)";
  for (size_t at; (at = yaml.find("DIR")) != std::string::npos;) yaml.replace(at, 3, dir);
  std::ofstream(dir + "/lb.yaml") << yaml;
  LoadResult r = loadProxyConfigFile(dir + "/lb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const ListenerConfig& l = r.config.listeners[0];
  EXPECT_TRUE(l.tls.enabled);
  EXPECT_EQ(l.tls.min_version, "1.3");
  EXPECT_EQ(l.tls.handshake_timeout, Duration(3000));
  ASSERT_EQ(l.tls.certificates.size(), 2u);
  EXPECT_EQ(l.tls.certificates[0].cert, dir + "/a.crt");  // relative to the config file
  EXPECT_EQ(l.tls.certificates[1].key, dir + "/b.key");
  EXPECT_TRUE(l.http2.enabled);
  EXPECT_EQ(l.http2.max_concurrent_streams, 50u);
  EXPECT_EQ(l.http2.stream_idle_timeout, Duration(20000));

  std::string bad = yaml;
  bad.replace(bad.find("key: a.key"), 10, "key: b.key");  // b's key under a's certificate
  bad.replace(bad.find(dir + "/b.crt"), dir.size() + 6, "missing.crt");
  bad.replace(bad.find("\"1.3\""), 5, "\"1.1\"");
  std::ofstream(dir + "/bad.yaml") << bad;
  std::vector<std::string> errors;
  for (const auto& e : loadProxyConfigFile(dir + "/bad.yaml").errors)
    errors.push_back(e.toString());
  ASSERT_EQ(errors.size(), 3u) << testing::PrintToString(errors);
  EXPECT_EQ(errors[0], dir +
                           "/bad.yaml:5:20: listeners[0].tls.min_version: expected \"1.2\" or "
                           "\"1.3\", got \"1.1\" (older protocols are not offered)");
  EXPECT_EQ(errors[1], dir + "/bad.yaml:8:11: listeners[0].tls.certificates[0]: key " + dir +
                           "/b.key does not match certificate " + dir + "/a.crt");
  EXPECT_NE(errors[2].find("bad.yaml:9:11: listeners[0].tls.certificates[1]: cannot open "
                           "certificate file " +
                           dir + "/missing.crt"),
            std::string::npos)
      << errors[2];

  auto cleartext = errorsOf(std::string(kValid).replace(std::string(kValid).find("    routes:"), 0,
                                                        "    tls: { certificates: [] }\n"));
  ASSERT_EQ(cleartext.size(), 1u) << testing::PrintToString(cleartext);
  EXPECT_NE(cleartext[0].find("listeners[0].tls.certificates: expected a non-empty list"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ConfigLoader, UpstreamTlsFilesAreCheckedAtLoad) {
  std::string dir = test::makeTempDir("lbtls");
  ASSERT_FALSE(dir.empty());
  ASSERT_TRUE(test::makeCa(dir, "ca"));
  ASSERT_TRUE(test::makeCertificate(dir, "c", {"client.test"}));
  ASSERT_TRUE(test::makeCertificate(dir, "d", {"other.test"}));
  std::string yaml = R"(listeners:
  - name: public
    listen: 127.0.0.1:8443
    routes:
      - cluster: app
clusters:
  - name: app
    tls:
      ca_file: ca.crt
      server_name: app.internal
      min_version: "1.3"
      client_certificate: { cert: c.crt, key: c.key }
      session_reuse: false
    hosts:
      - { id: a, address: 127.0.0.1:9001 }
  - name: plain
    hosts:
      - { id: b, address: 127.0.0.1:9002 }
)";
  std::ofstream(dir + "/lb.yaml") << yaml;
  LoadResult r = loadProxyConfigFile(dir + "/lb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const UpstreamTlsConfig& t = r.config.clusters[0].tls;
  EXPECT_TRUE(t.enabled);
  EXPECT_TRUE(t.verify);
  EXPECT_EQ(t.ca_file, dir + "/ca.crt");  // relative to the config file
  EXPECT_EQ(t.server_name, "app.internal");
  EXPECT_EQ(t.min_version, "1.3");
  EXPECT_EQ(t.client_cert, dir + "/c.crt");
  EXPECT_EQ(t.client_key, dir + "/c.key");
  EXPECT_FALSE(t.session_reuse);
  EXPECT_FALSE(r.config.clusters[1].tls.enabled);

  std::ofstream(dir + "/junk.pem") << "not a certificate\n";
  std::string bad = yaml;
  bad.replace(bad.find("ca.crt"), 6, "junk.pem");
  bad.replace(bad.find("app.internal"), 12, "App_Internal");
  bad.replace(bad.find("\"1.3\""), 5, "\"1.0\"");
  bad.replace(bad.find("key: c.key"), 10, "key: d.key");
  bad.replace(bad.find("session_reuse: false"), 20, "session_resume: false");
  std::ofstream(dir + "/bad.yaml") << bad;
  std::vector<std::string> errors;
  for (const auto& e : loadProxyConfigFile(dir + "/bad.yaml").errors)
    errors.push_back(e.toString());
  ASSERT_EQ(errors.size(), 5u) << testing::PrintToString(errors);
  const std::string at = dir + "/bad.yaml:";  // in file order
  EXPECT_EQ(errors[0], at + "9:16: clusters[0].tls.ca_file: no PEM certificate in CA file " + dir +
                           "/junk.pem");
  EXPECT_EQ(errors[1], at + "10:20: clusters[0].tls.server_name: invalid server name "
                            "\"App_Internal\" (a lower-case DNS name or an IP address)");
  EXPECT_EQ(errors[2], at + "11:20: clusters[0].tls.min_version: expected \"1.2\" or \"1.3\", got "
                            "\"1.0\" (older protocols are not offered)");
  EXPECT_EQ(errors[3], at + "12:27: clusters[0].tls.client_certificate: key " + dir +
                           "/d.key does not match certificate " + dir + "/c.crt");
  EXPECT_EQ(errors[4].rfind(at + "13:7: clusters[0].tls.session_resume: unknown field", 0), 0u)
      << errors[4];

  // An unverified backend with a CA named is a contradiction, said so.
  std::string both = yaml;
  both.replace(both.find("session_reuse: false"), 20, "verify: false");
  std::ofstream(dir + "/both.yaml") << both;
  auto contradiction = loadProxyConfigFile(dir + "/both.yaml").errors;
  ASSERT_EQ(contradiction.size(), 1u);
  EXPECT_EQ(contradiction[0].path, "clusters[0].tls.verify");
  std::filesystem::remove_all(dir);
}

TEST(ConfigLoader, Compression) {
  std::string yaml = kValid;
  const std::string at = "        timeout: 3s\n";
  yaml.replace(yaml.find(at), at.size(),
               at + "        compression: { encodings: [gzip], gzip_level: 9, min_size: 2KiB, "
                    "content_types: [Text/*, application/json] }\n");
  LoadResult r = loadProxyConfigString(yaml, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  const CompressionConfig& c = r.config.listeners[0].routes[0].compression;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.encodings, std::vector<std::string>{"gzip"});
  EXPECT_EQ(c.gzip_level, 9);
  EXPECT_EQ(c.brotli_quality, 4);  // the default
  EXPECT_EQ(c.min_size, 2048u);
  EXPECT_EQ(c.content_types, (std::vector<std::string>{"text/*", "application/json"}));
  EXPECT_FALSE(r.config.listeners[0].routes[1].compression.enabled);
  // `compression: {}` takes every default.
  std::string defaults = kValid;
  defaults.replace(defaults.find(at), at.size(), at + "        compression: {}\n");
  r = loadProxyConfigString(defaults, "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].toString();
  EXPECT_EQ(r.config.listeners[0].routes[0].compression.encodings,
            (std::vector<std::string>{"br", "gzip"}));

  // Every error at once, each with its place.
  std::string bad = kValid;
  bad.replace(bad.find(at), at.size(),
              at + "        compression: { encodings: [br, zstd, br], gzip_level: 0, "
                   "brotli_window: 30, content_types: [text, \"*/*\", text/html;q=1] }\n");
  const std::string last = "      - cluster: app\n";
  bad.replace(bad.find(last), last.size(),
              "      - match: { path_prefix: /down }\n"
              "        response: { status: 503 }\n"
              "        compression: { level: 3 }\n" +
                  last);
  EXPECT_EQ(
      errorsOf(bad),
      (std::vector<std::string>{
          "t.yaml:12:40: listeners[0].routes[0].compression.encodings[1]: unknown encoding "
          "\"zstd\" (br or gzip)",
          "t.yaml:12:46: listeners[0].routes[0].compression.encodings[2]: \"br\" is listed twice",
          "t.yaml:12:63: listeners[0].routes[0].compression.gzip_level: must be between 1 and 9",
          "t.yaml:12:81: listeners[0].routes[0].compression.brotli_window: must be between 10 "
          "and 24",
          "t.yaml:12:101: listeners[0].routes[0].compression.content_types[0]: invalid media "
          "type \"text\" (type/subtype or type/*, without parameters)",
          "t.yaml:12:107: listeners[0].routes[0].compression.content_types[1]: invalid media "
          "type \"*/*\" (type/subtype or type/*, without parameters)",
          "t.yaml:12:114: listeners[0].routes[0].compression.content_types[2]: invalid media "
          "type \"text/html;q=1\" (type/subtype or type/*, without parameters)",
          "t.yaml:15:22: listeners[0].routes[1].compression: a route with response forwards "
          "nothing: no compression",
          "t.yaml:15:24: listeners[0].routes[1].compression.level: unknown field \"level\" "
          "(expected one of: encodings, gzip_level, brotli_quality, brotli_window, min_size, "
          "content_types)",
      }));
}

}  // namespace
}  // namespace lb::config
