// The sticky-session cookie value: what lbproxy formats it parses back, and nothing else.
#include "proxy/stream/sticky_cookie.h"

#include <gtest/gtest.h>

namespace lb::stream {
namespace {

TEST(StickyCookie, FormatsAndParsesBothForms) {
  std::string out;
  StickyTarget host{0x0123456789abcdefULL, true, 0xfedcba9876543210ULL};
  formatStickyCookie("lb", host, "; Path=/", &out);
  EXPECT_EQ(out, "lb=0123456789abcdef.fedcba9876543210; Path=/");
  auto back = parseStickyValue("0123456789abcdef.fedcba9876543210");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, host);

  StickyTarget destination{42, false, 0};
  formatStickyCookie("v", destination, "", &out);
  EXPECT_EQ(out, "v=000000000000002a");
  back = parseStickyValue("000000000000002a");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, destination);
}

TEST(StickyCookie, AnythingElseIsNotOurs) {
  for (const char* v :
       {"", "0", "000000000000002", "0000000000000002a", "000000000000002A", "000000000000002g",
        "0123456789abcdef-fedcba9876543210", "0123456789abcdef.fedcba987654321",
        "0123456789abcdef.fedcba98765432100", " 123456789abcdef", "0123456789abcdef."})
    EXPECT_FALSE(parseStickyValue(v)) << v;
}

}  // namespace
}  // namespace lb::stream
