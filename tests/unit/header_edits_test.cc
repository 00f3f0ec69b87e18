// A route's header edits: what they drop, what they set, and set values' ${variables}.
#include "proxy/http/header_edits.h"

#include <gtest/gtest.h>

namespace lb::http {
namespace {

TEST(HeaderEdits, SetReplacesEveryFieldOfTheNameAndRemoveDrops) {
  HeaderEdits e;
  e.set = {{"X-Env", "prod"}};
  e.remove = {"x-debug"};
  std::vector<Header> headers = {
      {"x-env", "dev"}, {"X-Keep", "1"}, {"X-ENV", "qa"}, {"X-Debug", "1"}};
  e.apply(&headers, {});
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].name, "X-Keep");
  EXPECT_EQ(headers[1].name, "X-Env");
  EXPECT_EQ(headers[1].value, "prod");
}

TEST(HeaderEdits, VariablesAreFilledInFromTheRequest) {
  EditVariables v;
  v.client_ip = "203.0.113.7";
  v.request_id = "r-1";
  v.host = "shop.example.com";
  v.scheme = "https";
  v.route = "api";
  v.upstream = "app-2";
  auto expand = [&](std::string_view value) {
    std::string out = "<";
    expandVariables(value, v, &out);
    return out;
  };
  EXPECT_EQ(expand("${client_ip}"), "<203.0.113.7");
  EXPECT_EQ(expand("${scheme}://${host}/x?id=${request_id}"), "<https://shop.example.com/x?id=r-1");
  EXPECT_EQ(expand("${upstream} via ${route}"), "<app-2 via api");
  EXPECT_EQ(expand("$5 {x} $"), "<$5 {x} $");  // no variable: as written
  EXPECT_EQ(expand("a ${nope} b"), "<a  b");   // unknown (the loader refuses it): nothing
  EXPECT_EQ(expand("tail ${"), "<tail ${");

  HeaderEdits e;
  e.set = {{"X-Real-IP", "${client_ip}"}, {"X-Plain", "v"}};
  e.templated = true;
  std::vector<Header> headers;
  e.apply(&headers, v);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].value, "203.0.113.7");
  EXPECT_EQ(headers[1].value, "v");
}

TEST(HeaderEdits, HostWithoutPort) {
  EXPECT_EQ(hostWithoutPort("shop.example.com:8080"), "shop.example.com");
  EXPECT_EQ(hostWithoutPort("shop.example.com"), "shop.example.com");
  EXPECT_EQ(hostWithoutPort("[::1]:8443"), "[::1]");
  EXPECT_EQ(hostWithoutPort("[::1]"), "[::1]");
  EXPECT_EQ(hostWithoutPort(""), "");
}

}  // namespace
}  // namespace lb::http
