// libFuzzer target: the HTTP/1 body decoder. Byte 0 picks the framing (content-length with the
// length from bytes 1-2, chunked, or until close), byte 3 seeds the split. Checks: every step
// stays inside its input, the payload and the verdict are the same at once and in pieces, and
// a content-length body yields exactly that many bytes.
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_input.h"
#include "proxy/http/body_decoder.h"

namespace {

using lb::http::BodyDecoder;
using lb::http::BodyFraming;

#define CHECK(cond)            \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

struct Run {
  std::string payload;
  bool done = false;
  bool error = false;
};

Run decode(BodyFraming framing, uint64_t length, const char* data, size_t len,
           const std::vector<size_t>& pieces) {
  BodyDecoder d;
  d.start(framing, length);
  Run out;
  std::string pending;  // bytes offered and not consumed yet, as a connection keeps them
  size_t at = 0;
  for (size_t n : pieces) {
    pending.append(data + at, n);
    at += n;
    for (;;) {
      if (d.done() || pending.empty()) break;
      BodyDecoder::Step s = d.decode(pending.data(), pending.size());
      CHECK(s.consumed <= pending.size());
      CHECK(s.data_offset + s.data_len <= s.consumed || s.data_len == 0);
      if (s.error) {
        out.error = true;
        return out;
      }
      out.payload.append(pending.data() + s.data_offset, s.data_len);
      pending.erase(0, s.consumed);
      if (s.consumed == 0) break;
    }
    if (d.done()) break;
  }
  out.done = d.done();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size < 4) return 0;
  const BodyFraming framing = raw[0] % 3 == 0   ? BodyFraming::kContentLength
                              : raw[0] % 3 == 1 ? BodyFraming::kChunked
                                                : BodyFraming::kUntilClose;
  const uint64_t length = (uint64_t{raw[1]} << 8) | raw[2];
  const char* data = reinterpret_cast<const char*>(raw + 4);
  const size_t len = size - 4;
  Run whole = decode(framing, length, data, len, {len});
  Run split = decode(framing, length, data, len, lb::fuzz::pieceSizes(raw[3], len));
  CHECK(whole.error == split.error);
  CHECK(whole.done == split.done);
  if (!whole.error) CHECK(whole.payload == split.payload);
  if (framing == BodyFraming::kContentLength && whole.done) CHECK(whole.payload.size() == length);
  if (framing == BodyFraming::kContentLength) CHECK(whole.payload.size() <= length);
  return 0;
}
