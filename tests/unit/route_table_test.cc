#include "proxy/router/route_table.h"

#include <gtest/gtest.h>

#include "proxy/http/message.h"
#include "proxy/http/request_fields.h"
#include "proxy/router/weighted_pick.h"

namespace lb::router {
namespace {

RouteEntry entry(std::string host, std::string prefix, uint32_t cluster) {
  RouteEntry e;
  e.host = host;  // RouteTable::add turns "*.x" into a wildcard
  e.path_prefix = prefix;
  e.destinations = {{cluster, -1, 1, ""}};
  return e;
}

TEST(RouteTable, FirstMatchWinsByHostThenPrefix) {
  RouteTable t;
  t.add(entry("shop.example.com", "/api/payments", 1));
  t.add(entry("*.example.com", "/static/", 2));
  t.add(entry("", "/api/", 3));
  auto cluster = [&](std::string_view host, std::string_view path) -> int {
    const RouteEntry* e = t.match(host, path);
    return e ? static_cast<int>(e->destinations[0].cluster_index) : -1;
  };
  EXPECT_EQ(cluster("shop.example.com", "/api/payments/1"), 1);
  EXPECT_EQ(cluster("SHOP.Example.COM:8080", "/api/payments"), 1);
  EXPECT_EQ(cluster("other.example.com", "/api/payments"), 3);
  EXPECT_EQ(cluster("img.example.com", "/static/a.png"), 2);
  EXPECT_EQ(cluster("a.b.example.com", "/static/a.png"), 2);
  EXPECT_EQ(cluster("example.com", "/static/a.png"), -1) << "*.x does not match x itself";
  EXPECT_EQ(cluster("evil-example.com", "/static/a.png"), -1);
  EXPECT_EQ(cluster("anything", "/api/x"), 3);
  EXPECT_EQ(cluster("anything", "/other"), -1);
}

TEST(RouteTable, NormalizeHost) {
  EXPECT_EQ(RouteTable::normalizeHost("Example.COM:80"), "example.com");
  EXPECT_EQ(RouteTable::normalizeHost("[::1]:8080"), "[::1]");
  EXPECT_EQ(RouteTable::normalizeHost("example.com."), "example.com");
}

config::ValueMatch cond(std::string name, config::ValueMatch::Kind kind, std::string value = "") {
  config::ValueMatch m;
  m.name = std::move(name);
  m.kind = kind;
  m.value = std::move(value);
  return m;
}

http::RequestHead request(std::string method, std::string path,
                          std::vector<http::Header> headers = {}) {
  http::RequestHead r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.authority = "shop.example.com";
  r.headers = std::move(headers);
  return r;
}

TEST(RouteTable, ConditionsOnMethodHeadersCookiesAndQuery) {
  using Kind = config::ValueMatch::Kind;
  RouteTable t;
  RouteEntry canary = entry("", "/", 1);
  canary.headers = compileConditions({cond("X-Canary", Kind::kExact, "1")});
  canary.conditional = true;
  t.add(canary);
  RouteEntry beta = entry("", "/", 2);
  beta.cookies = compileConditions({cond("beta", Kind::kPrefix, "yes")});
  beta.conditional = true;
  t.add(beta);
  RouteEntry debug = entry("", "/api/", 3);
  debug.query = compileConditions({cond("debug", Kind::kPresent)});
  debug.methods = {"GET", "HEAD"};
  debug.conditional = true;
  t.add(debug);
  RouteEntry mobile = entry("", "/", 4);
  mobile.headers =
      compileConditions({cond("user-agent", Kind::kRegex, "Mozilla/.*(Android|iPhone).*"),
                         cond("X-Bot", Kind::kAbsent)});
  mobile.conditional = true;
  t.add(mobile);
  t.add(entry("", "/", 5));
  auto cluster = [&](const http::RequestHead& req) -> int {
    const RouteEntry* e = t.match(req);
    return e ? static_cast<int>(e->destinations[0].cluster_index) : -1;
  };
  EXPECT_EQ(cluster(request("GET", "/", {{"x-canary", "1"}})), 1);  // names any case
  EXPECT_EQ(cluster(request("GET", "/", {{"X-Canary", "0"}})), 5);
  EXPECT_EQ(cluster(request("GET", "/", {{"X-Canary", "0"}, {"X-Canary", "1"}})), 1);
  EXPECT_EQ(cluster(request("GET", "/", {{"Cookie", "a=1; beta=yes-please"}})), 2);
  EXPECT_EQ(cluster(request("GET", "/", {{"Cookie", "a=1"}, {"Cookie", "beta=yes"}})), 2);
  EXPECT_EQ(cluster(request("GET", "/", {{"Cookie", "xbeta=yes"}})), 5);
  EXPECT_EQ(cluster(request("GET", "/api/x?a=1&debug")), 3);
  EXPECT_EQ(cluster(request("HEAD", "/api/x?debug=0")), 3);
  EXPECT_EQ(cluster(request("POST", "/api/x?debug=1")), 5);  // not its method
  EXPECT_EQ(cluster(request("GET", "/api/x?nodebug=1")), 5);
  EXPECT_EQ(cluster(request("GET", "/other?debug")), 5);  // not its prefix
  EXPECT_EQ(cluster(request("GET", "/", {{"User-Agent", "Mozilla/5.0 (iPhone; CPU)"}})), 4);
  EXPECT_EQ(
      cluster(request("GET", "/", {{"User-Agent", "Mozilla/5.0 (Android)"}, {"X-Bot", "yes"}})), 5);
  // A regex must match the whole value: "iPhone" alone has no "Mozilla/" before it.
  EXPECT_EQ(cluster(request("GET", "/", {{"User-Agent", "iPhone"}})), 5);
  EXPECT_EQ(cluster(request("GET", "/", {{"User-Agent", "Mozilla/5.0 (iPhone)"}})), 4);
  // Without the request, conditional routes never match.
  EXPECT_EQ(t.match("a", "/")->destinations[0].cluster_index, 5u);
}

TEST(RequestFields, CookiesAndQueryParameters) {
  http::RequestHead r = request("GET", "/p?x=1&empty=&flag&x=2", {{"Cookie", "a=1;b=;  c=3"}});
  EXPECT_EQ(http::findQueryParam(r.path, "x"), "1");  // the first one
  EXPECT_EQ(http::findQueryParam(r.path, "empty"), "");
  EXPECT_EQ(http::findQueryParam(r.path, "flag"), "");
  EXPECT_FALSE(http::findQueryParam(r.path, "fla"));
  EXPECT_FALSE(http::findQueryParam("/p", "x"));
  EXPECT_EQ(http::findCookie(r, "a"), "1");
  EXPECT_EQ(http::findCookie(r, "b"), "");
  EXPECT_EQ(http::findCookie(r, "c"), "3");
  EXPECT_FALSE(http::findCookie(r, "d"));
}

}  // namespace
}  // namespace lb::router

namespace lb::router {
namespace {

std::vector<RouteEntry::Destination> weights(std::vector<uint32_t> w) {
  std::vector<RouteEntry::Destination> out;
  for (uint32_t x : w) out.push_back({0, -1, x, ""});
  return out;
}

TEST(WeightedPick, EachDestinationGetsExactlyItsWeightSpreadOut) {
  auto d = weights({5, 1, 1});
  std::vector<int64_t> current(d.size(), 0);
  std::string order;
  for (int i = 0; i < 7; ++i)
    order += static_cast<char>('a' + smoothWeightedPick(d, current.data()));
  EXPECT_EQ(order, "aabacaa");  // nginx's example: spread out, not aaaaabc
  // Over any run of whole rounds the counts are exact, whatever the weights.
  auto canary = weights({9990, 10});
  std::vector<int64_t> state(2, 0);
  int picks[2] = {0, 0};
  for (int i = 0; i < 3 * 10000; ++i) ++picks[smoothWeightedPick(canary, state.data())];
  EXPECT_EQ(picks[0], 3 * 9990);
  EXPECT_EQ(picks[1], 3 * 10);
}

TEST(WeightedPick, ZeroWeightsAreNeverPickedAndAllZeroPicksTheFirst) {
  auto d = weights({0, 3, 0});
  std::vector<int64_t> current(3, 0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(smoothWeightedPick(d, current.data()), 1u);
  auto none = weights({0, 0});
  std::vector<int64_t> zero(2, 0);
  EXPECT_EQ(smoothWeightedPick(none, zero.data()), 0u);
}

}  // namespace
}  // namespace lb::router
