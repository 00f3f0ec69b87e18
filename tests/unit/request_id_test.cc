// X-Request-Id: the hex encoding and the choice between the client's id and a new one.
#include "proxy/stream/request_id.h"

#include <gtest/gtest.h>

#include <string>

namespace lb::stream {
namespace {

TEST(RequestId, HexIsSixteenDigitsMostSignificantFirst) {
  std::string out = "x";
  appendHex(&out, 0x0123456789abcdefULL);
  EXPECT_EQ(out, "x0123456789abcdef");
  out.clear();
  appendHex(&out, 0);
  appendHex(&out, ~0ULL);
  EXPECT_EQ(out, "0000000000000000ffffffffffffffff");
}

TEST(RequestId, ClientIdKeptWhenSaneElseNewOne) {
  http::RequestHead req;
  req.headers.push_back({"X-Request-Id", "abc-123_x.y:z"});
  std::string id;
  chooseRequestId(req, 1, 2, &id);
  EXPECT_EQ(id, "abc-123_x.y:z");

  req.headers[0].value = "has space";
  chooseRequestId(req, 0xa, 0xb, &id);
  EXPECT_EQ(id, "000000000000000a000000000000000b");

  req.headers[0].value = std::string(129, 'a');  // too long
  chooseRequestId(req, 1, 1, &id);
  EXPECT_EQ(id.size(), 32u);
}

}  // namespace
}  // namespace lb::stream
