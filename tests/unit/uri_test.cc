// Path segments built from user input stay one segment, and the server's split-and-decode
// gives the input back.
#include "common/uri.h"

#include <gtest/gtest.h>

#include "common/http_server.h"

namespace lb::common {
namespace {

TEST(EscapePathSegment, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(escapePathSegment("app-1_v2.0~x"), "app-1_v2.0~x");
  EXPECT_EQ(escapePathSegment("a/b"), "a%2Fb");
  EXPECT_EQ(escapePathSegment("a b?c#d%"), "a%20b%3Fc%23d%25");
  EXPECT_EQ(escapePathSegment(".."), "%2E%2E");
  EXPECT_EQ(escapePathSegment("."), "%2E");
  EXPECT_EQ(escapePathSegment("\xff"), "%FF");
}

TEST(EscapePathSegment, RoundTripsThroughTheServersSplit) {
  for (std::string id : {"plain", "a/b", "../../v1/config/reload", "x?force=true", "50%"}) {
    std::vector<std::string> parts = splitPath("/v1/clusters/" + escapePathSegment(id) + "/hosts");
    ASSERT_EQ(parts.size(), 4u) << id;
    EXPECT_EQ(parts[2], id);
  }
}

}  // namespace
}  // namespace lb::common
