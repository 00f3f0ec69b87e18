// Strict body framing, fed whole, byte by byte and in random splits.
#include "proxy/http/body_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace lb::http {
namespace {

struct Decoded {
  std::string payload;
  bool done = false;
  bool error = false;
  size_t consumed = 0;
};

Decoded decodeIn(BodyFraming framing, uint64_t length, const std::string& in, size_t max_piece,
                 uint32_t seed) {
  BodyDecoder d;
  d.start(framing, length);
  std::mt19937 rng(seed);
  Decoded out;
  size_t pos = 0;
  while (pos < in.size() && !out.done && !out.error) {
    size_t piece = std::min(in.size() - pos, max_piece == 0 ? in.size() : 1 + rng() % max_piece);
    size_t off = 0;
    while (off < piece) {
      auto s = d.decode(in.data() + pos + off, piece - off);
      if (s.error) {
        out.error = true;
        break;
      }
      out.payload.append(in.data() + pos + off + s.data_offset, s.data_len);
      off += s.consumed;
      if (s.done) {
        out.done = true;
        break;
      }
      if (s.consumed == 0) break;
    }
    pos += off;
  }
  out.consumed = pos;
  if (d.done()) out.done = true;
  return out;
}

// Whole, one byte at a time and 30 random splittings must all agree.
Decoded decode(BodyFraming framing, uint64_t length, const std::string& in) {
  Decoded whole = decodeIn(framing, length, in, 0, 0);
  Decoded bytes = decodeIn(framing, length, in, 1, 0);
  EXPECT_EQ(bytes.payload, whole.payload);
  EXPECT_EQ(bytes.done, whole.done);
  EXPECT_EQ(bytes.error, whole.error);
  if (!whole.error) {
    EXPECT_EQ(bytes.consumed, whole.consumed);
  }
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    Decoded r = decodeIn(framing, length, in, 7, seed);
    EXPECT_EQ(r.payload, whole.payload) << seed;
    EXPECT_EQ(r.done, whole.done) << seed;
    EXPECT_EQ(r.error, whole.error) << seed;
  }
  return whole;
}

TEST(BodyDecoder, ContentLengthStopsAtTheLength) {
  Decoded d = decode(BodyFraming::kContentLength, 5, "helloGET / HTTP/1.1");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.payload, "hello");
  EXPECT_EQ(d.consumed, 5u);
}

TEST(BodyDecoder, ChunkedWithExtensionsAndTrailers) {
  std::string in = "5;name=\"va;l\"\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
  Decoded d = decode(BodyFraming::kChunked, 0, in);
  EXPECT_FALSE(d.error);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.payload, "hello0123456789");
  EXPECT_EQ(d.consumed, in.size() - 4);
}

TEST(BodyDecoder, ChunkedRejectsMalformedFraming) {
  for (std::string bad : {
           "1\r\nAXX0\r\n\r\n",         // chunk data not followed by CRLF (llhttp 8.1.0 accepts it)
           "G\r\nx\r\n0\r\n\r\n",       // not hex
           "\r\n0\r\n\r\n",             // empty size
           "1\nA\r\n0\r\n\r\n",         // bare LF after the size
           "1 \r\nA\r\n0\r\n\r\n",      // whitespace after the size
           "-1\r\nA\r\n0\r\n\r\n",      // sign
           "11111111111111111\r\n",     // size overflows
           "0\r\nX: a\nb\r\n\r\n",      // bare LF in a trailer
           "0\r\nbad trailer\r\n\r\n",  // trailer without a colon
       }) {
    Decoded d = decode(BodyFraming::kChunked, 0, bad);
    EXPECT_TRUE(d.error) << testing::PrintToString(bad);
    EXPECT_FALSE(d.done) << testing::PrintToString(bad);
  }
}

TEST(BodyDecoder, UntilCloseTakesEverythingAndFinishesOnClose) {
  BodyDecoder d;
  d.start(BodyFraming::kUntilClose, 0);
  std::string in = "any bytes\r\n0\r\n\r\n";
  auto s = d.decode(in.data(), in.size());
  EXPECT_EQ(s.data_len, in.size());
  EXPECT_FALSE(s.done);
  EXPECT_TRUE(d.finishOnClose());

  BodyDecoder cl;
  cl.start(BodyFraming::kContentLength, 10);
  cl.decode("abc", 3);
  EXPECT_FALSE(cl.finishOnClose()) << "a short Content-Length body is truncated, not complete";
}

TEST(BodyDecoder, LargeRandomChunkedBodyRoundTrips) {
  std::mt19937 rng(7);
  std::string payload, wire;
  while (payload.size() < 200000) {
    size_t n = 1 + rng() % 5000;
    std::string piece(n, '\0');
    for (auto& c : piece) c = static_cast<char>(rng());
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", n);
    wire += size;
    wire += piece;
    wire += "\r\n";
    payload += piece;
  }
  wire += "0\r\n\r\n";
  Decoded d = decodeIn(BodyFraming::kChunked, 0, wire, 4096, 3);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.payload, payload);
}

}  // namespace
}  // namespace lb::http
