// Strict HTTP/1 body framing: Content-Length, chunked (RFC 9112 7.1) or until close.
// It yields the payload bytes only, so the proxy re-frames what it forwards and never relays
// chunk syntax it did not check. No sockets; owner thread only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy/http/error.h"
#include "proxy/http/message.h"

namespace lb::http {

class BodyDecoder {
 public:
  struct Step {
    size_t consumed = 0;     // input bytes used by this step
    size_t data_offset = 0;  // payload bytes are input[data_offset, data_offset + data_len)
    size_t data_len = 0;
    bool done = false;  // the body (with any trailers) is complete
    bool error = false;
    const char* why = "";
  };

  BodyDecoder() = default;
  void start(BodyFraming framing, uint64_t content_length);

  // Consumes framing and returns at most one span of payload. Call again with the rest of
  // the input until it consumes nothing, is done or fails.
  Step decode(const char* data, size_t len);

  // The peer closed: completes an until-close body; anything else is truncated.
  bool finishOnClose() const { return framing_ == BodyFraming::kUntilClose || done(); }

  bool done() const { return state_ == State::kDone; }
  BodyFraming framing() const { return framing_; }
  uint64_t payloadBytes() const { return payload_bytes_; }

 private:
  enum class State {
    kDone,
    kLength,
    kUntilClose,
    kChunkSize,
    kChunkBws,
    kChunkExt,
    kChunkSizeLf,
    kChunkData,
    kChunkDataCr,
    kChunkDataLf,
    kTrailerLineStart,
    kTrailerLine,
    kTrailerLineLf,
    kFinalLf,
  };

  BodyFraming framing_ = BodyFraming::kNone;
  State state_ = State::kDone;
  uint64_t remaining_ = 0;
  uint64_t payload_bytes_ = 0;
  uint32_t size_digits_ = 0;
  uint32_t trailer_bytes_ = 0;
  bool ext_quoted_ = false;
  bool trailer_in_name_ = false;
};

}  // namespace lb::http
