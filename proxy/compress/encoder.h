// A streaming gzip (zlib) or brotli (libbrotlienc) encoder for one response body at a time.
// Memory is the coder's state alone (set by the level and window, smaller for a body of known
// small length) and whatever one write() appends: the body is never held whole.
//
// Owner: one request on its worker thread. start() takes the coder's state, finish() or
// release() gives it back, so an idle pooled request costs nothing but this object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy/compress/policy.h"

struct z_stream_s;
struct BrotliEncoderStateStruct;

namespace lb::config {
struct CompressionConfig;
}

namespace lb::compress {

class Encoder {
 public:
  Encoder() = default;
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // A new body in `coding` (gzip or br) with the route's settings; `size_hint` is its length
  // when known, else 0. False when the coder's state cannot be had (out of memory): the
  // response goes uncompressed.
  bool start(Coding coding, const config::CompressionConfig& config, uint64_t size_hint);
  // Appends to *out what the coder gives for `len` more bytes (often nothing yet). False on
  // a coder error (the response must be cut).
  bool write(const char* data, size_t len, std::string* out);
  // Appends the rest of the coded body and its trailer, then releases the state.
  bool finish(std::string* out);
  // Gives the coder's state back (a body that ends early).
  void release();

  bool active() const { return coding_ != Coding::kIdentity; }
  Coding coding() const { return coding_; }
  uint64_t bytesIn() const { return bytes_in_; }
  uint64_t bytesOut() const { return bytes_out_; }

 private:
  bool run(const char* data, size_t len, bool last, std::string* out);

  Coding coding_ = Coding::kIdentity;
  z_stream_s* zlib_ = nullptr;
  BrotliEncoderStateStruct* brotli_ = nullptr;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

}  // namespace lb::compress
