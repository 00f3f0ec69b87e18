#include "proxy/compress/encoder.h"

#include <brotli/encode.h>
#include <zlib.h>

#include <algorithm>

#include "config/model.h"

namespace lb::compress {
namespace {

// What one call of the coder may write before its output is appended: on the stack.
constexpr size_t kChunk = 16 * 1024;

// zlib's window and hash memory for a body of known length: no larger than the body needs
// (as nginx does), so a small response does not take the full 256 KiB.
void zlibSizes(uint64_t size_hint, int* window_bits, int* mem_level) {
  *window_bits = 15;
  *mem_level = 8;
  if (size_hint == 0) return;
  while (*window_bits > 9 && size_hint < (uint64_t{1} << (*window_bits - 1))) {
    --*window_bits;
    --*mem_level;
  }
  *mem_level = std::max(*mem_level, 1);
}

}  // namespace

Encoder::~Encoder() { release(); }

bool Encoder::start(Coding coding, const config::CompressionConfig& config, uint64_t size_hint) {
  release();
  bytes_in_ = 0;
  bytes_out_ = 0;
  if (coding == Coding::kGzip) {
    zlib_ = new z_stream{};
    int window_bits, mem_level;
    zlibSizes(size_hint, &window_bits, &mem_level);
    // 16 + window bits: a gzip header and trailer around the deflate stream.
    if (deflateInit2(zlib_, config.gzip_level, Z_DEFLATED, 16 + window_bits, mem_level,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      delete zlib_;
      zlib_ = nullptr;
      return false;
    }
  } else if (coding == Coding::kBrotli) {
    brotli_ = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
    if (!brotli_) return false;
    BrotliEncoderSetParameter(brotli_, BROTLI_PARAM_QUALITY,
                              static_cast<uint32_t>(config.brotli_quality));
    int window = config.brotli_window;
    // A smaller window for a body that is known to fit: less memory, same output.
    while (size_hint && window > BROTLI_MIN_WINDOW_BITS &&
           size_hint <= (uint64_t{1} << (window - 1)))
      --window;
    BrotliEncoderSetParameter(brotli_, BROTLI_PARAM_LGWIN, static_cast<uint32_t>(window));
    if (size_hint)
      BrotliEncoderSetParameter(
          brotli_, BROTLI_PARAM_SIZE_HINT,
          static_cast<uint32_t>(std::min<uint64_t>(size_hint, uint64_t{1} << 30)));
  } else {
    return false;
  }
  coding_ = coding;
  return true;
}

bool Encoder::write(const char* data, size_t len, std::string* out) {
  if (len == 0) return true;
  return run(data, len, false, out);
}

bool Encoder::finish(std::string* out) {
  const bool ok = run(nullptr, 0, true, out);
  release();
  return ok;
}

bool Encoder::run(const char* data, size_t len, bool last, std::string* out) {
  if (!active()) return false;
  bytes_in_ += len;
  const size_t before = out->size();
  unsigned char buf[kChunk];
  if (zlib_) {
    zlib_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zlib_->avail_in = static_cast<uInt>(len);
    const int flush = last ? Z_FINISH : Z_NO_FLUSH;
    for (;;) {
      zlib_->next_out = buf;
      zlib_->avail_out = sizeof(buf);
      const int rc = deflate(zlib_, flush);
      if (rc == Z_STREAM_ERROR) return false;
      out->append(reinterpret_cast<const char*>(buf), sizeof(buf) - zlib_->avail_out);
      if (last ? rc == Z_STREAM_END : (zlib_->avail_in == 0 && zlib_->avail_out != 0)) break;
    }
  } else {
    size_t avail_in = len;
    const auto* next_in = reinterpret_cast<const uint8_t*>(data);
    const BrotliEncoderOperation op = last ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS;
    for (;;) {
      size_t avail_out = sizeof(buf);
      uint8_t* next_out = buf;
      if (!BrotliEncoderCompressStream(brotli_, op, &avail_in, &next_in, &avail_out, &next_out,
                                       nullptr))
        return false;
      out->append(reinterpret_cast<const char*>(buf), sizeof(buf) - avail_out);
      if (BrotliEncoderHasMoreOutput(brotli_)) continue;
      if (last ? BrotliEncoderIsFinished(brotli_) : avail_in == 0) break;
    }
  }
  bytes_out_ += out->size() - before;
  return true;
}

void Encoder::release() {
  if (zlib_) {
    deflateEnd(zlib_);
    delete zlib_;
    zlib_ = nullptr;
  }
  if (brotli_) {
    BrotliEncoderDestroyInstance(brotli_);
    brotli_ = nullptr;
  }
  coding_ = Coding::kIdentity;
}

}  // namespace lb::compress
