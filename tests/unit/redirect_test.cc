// Redirect locations: what each part of a route's redirect replaces and what it keeps.
#include "proxy/router/redirect.h"

#include <gtest/gtest.h>

#include "proxy/http/message.h"

namespace lb::router {
namespace {

http::RequestHead request(const std::string& authority, const std::string& path) {
  http::RequestHead req;
  req.method = "GET";
  req.authority = authority;
  req.path = path;
  return req;
}

std::string location(const config::RedirectConfig& rd, const std::string& authority,
                     const std::string& path, bool https = false, const std::string& prefix = "/") {
  std::string out;
  if (!redirectLocation(rd, prefix, request(authority, path), https, &out)) return "<none>";
  return out;
}

TEST(Redirect, HttpToHttpsDropsThePortAndKeepsPathAndQuery) {
  config::RedirectConfig rd;
  rd.scheme = "https";
  EXPECT_EQ(location(rd, "Shop.Example.com:8080", "/a/b?x=1&y"),
            "https://shop.example.com/a/b?x=1&y");
  EXPECT_EQ(location(rd, "[::1]:8080", "/"), "https://[::1]/");
  rd.port = 8443;
  EXPECT_EQ(location(rd, "shop.example.com", "/a"), "https://shop.example.com:8443/a");
  // Already https and nothing else changes: the request's port stays.
  config::RedirectConfig same;
  same.scheme = "https";
  EXPECT_EQ(location(same, "shop.example.com:8443", "/a", true), "https://shop.example.com:8443/a");
}

TEST(Redirect, HostPathPrefixAndQuery) {
  config::RedirectConfig rd;
  rd.host = "blog.example.com";
  EXPECT_EQ(location(rd, "www.example.com:80", "/p?q"), "http://blog.example.com/p?q");
  rd.path = "/index.html";
  rd.strip_query = true;
  EXPECT_EQ(location(rd, "www.example.com", "/p?q"), "http://blog.example.com/index.html");

  config::RedirectConfig prefix;
  prefix.has_prefix = true;
  prefix.prefix = "/new";
  EXPECT_EQ(location(prefix, "a.test", "/old/x/y?z=1", false, "/old"), "http://a.test/new/x/y?z=1");
  EXPECT_EQ(location(prefix, "a.test", "/old", false, "/old"), "http://a.test/new");
  prefix.prefix = "/";
  EXPECT_EQ(location(prefix, "a.test", "/old/x", false, "/old"), "http://a.test/x");
  prefix.prefix = "/v2/";
  EXPECT_EQ(location(prefix, "a.test", "/api/users", false, "/api/"), "http://a.test/v2/users");
}

TEST(Redirect, NoHostAnywhereIsNoLocation) {
  config::RedirectConfig rd;
  rd.scheme = "https";
  EXPECT_EQ(location(rd, "", "/"), "<none>");
  rd.host = "example.com";
  EXPECT_EQ(location(rd, "", "/"), "https://example.com/");
}

}  // namespace
}  // namespace lb::router
