#include "proxy/router/route_table.h"

#include <gtest/gtest.h>

namespace lb::router {
namespace {

RouteEntry entry(std::string host, std::string prefix, uint32_t cluster) {
  RouteEntry e;
  e.host = host;  // RouteTable::add turns "*.x" into a wildcard
  e.path_prefix = prefix;
  e.cluster_index = cluster;
  return e;
}

TEST(RouteTable, FirstMatchWinsByHostThenPrefix) {
  RouteTable t;
  t.add(entry("shop.example.com", "/api/payments", 1));
  t.add(entry("*.example.com", "/static/", 2));
  t.add(entry("", "/api/", 3));
  auto cluster = [&](std::string_view host, std::string_view path) -> int {
    const RouteEntry* e = t.match(host, path);
    return e ? static_cast<int>(e->cluster_index) : -1;
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

}  // namespace
}  // namespace lb::router
