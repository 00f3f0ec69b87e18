#include "proxy/http/body_decoder.h"

#include <algorithm>

#include "proxy/http/http1_parser.h"

namespace lb::http {

namespace {
constexpr uint32_t kMaxTrailerBytes = 16 * 1024;
constexpr uint32_t kMaxChunkSizeDigits = 15;  // < 2^60: no overflow

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

void BodyDecoder::start(BodyFraming framing, uint64_t content_length) {
  framing_ = framing;
  payload_bytes_ = 0;
  size_digits_ = 0;
  trailer_bytes_ = 0;
  remaining_ = 0;
  switch (framing) {
    case BodyFraming::kNone:
      state_ = State::kDone;
      break;
    case BodyFraming::kContentLength:
      remaining_ = content_length;
      state_ = content_length ? State::kLength : State::kDone;
      break;
    case BodyFraming::kChunked:
      state_ = State::kChunkSize;
      break;
    case BodyFraming::kUntilClose:
      state_ = State::kUntilClose;
      break;
  }
}

BodyDecoder::Step BodyDecoder::decode(const char* data, size_t len) {
  Step step;
  auto fail = [&](const char* why) {
    step.error = true;
    step.why = why;
    return step;
  };
  size_t i = 0;
  while (i < len) {
    const char c = data[i];
    switch (state_) {
      case State::kDone:
        step.consumed = i;
        step.done = true;
        return step;
      case State::kLength:
      case State::kChunkData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, len - i));
        step.data_offset = i;
        step.data_len = n;
        step.consumed = i + n;
        remaining_ -= n;
        payload_bytes_ += n;
        if (remaining_ == 0) state_ = state_ == State::kLength ? State::kDone : State::kChunkDataCr;
        step.done = state_ == State::kDone;
        return step;
      }
      case State::kUntilClose:
        step.data_offset = i;
        step.data_len = len - i;
        step.consumed = len;
        payload_bytes_ += len - i;
        return step;
      case State::kChunkSize: {
        int v = hexValue(c);
        if (v >= 0) {
          if (++size_digits_ > kMaxChunkSizeDigits) return fail("chunk size too large");
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(v);
        } else if (size_digits_ == 0) {
          return fail("invalid chunk size");
        } else if (c == ';') {
          state_ = State::kChunkExt;
          ext_quoted_ = false;
        } else if (c == ' ' || c == '\t') {
          state_ = State::kChunkBws;  // BWS is allowed only before a chunk extension
        } else if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else {
          return fail("invalid chunk size");
        }
        ++i;
        break;
      }
      case State::kChunkBws:
        if (c == ';') {
          state_ = State::kChunkExt;
          ext_quoted_ = false;
        } else if (c != ' ' && c != '\t') {
          return fail("whitespace after chunk size without an extension");
        }
        if (++trailer_bytes_ > kMaxTrailerBytes) return fail("chunk extension too long");
        ++i;
        break;
      case State::kChunkExt:
        // Extensions are dropped; their bytes must still be clean.
        if (c == '\r' && !ext_quoted_) {
          state_ = State::kChunkSizeLf;
        } else if (c == '"') {
          ext_quoted_ = !ext_quoted_;
        } else if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
          return fail("control character in chunk extension");
        }
        if (++trailer_bytes_ > kMaxTrailerBytes) return fail("chunk extension too long");
        ++i;
        break;
      case State::kChunkSizeLf:
        if (c != '\n') return fail("bare CR after chunk size");
        ++i;
        size_digits_ = 0;
        state_ = remaining_ == 0 ? State::kTrailerLineStart : State::kChunkData;
        break;
      case State::kChunkDataCr:
        if (c != '\r') return fail("chunk data not followed by CRLF");
        ++i;
        state_ = State::kChunkDataLf;
        break;
      case State::kChunkDataLf:
        if (c != '\n') return fail("chunk data not followed by CRLF");
        ++i;
        state_ = State::kChunkSize;
        break;
      case State::kTrailerLineStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
        } else if (c == ' ' || c == '\t' || c == ':') {
          return fail("invalid trailer field");
        } else {
          state_ = State::kTrailerLine;
          trailer_in_name_ = true;
          continue;  // validate this byte as part of the line
        }
        ++i;
        break;
      case State::kTrailerLine:
        // Trailer fields are not forwarded; they only have to be well-formed.
        if (trailer_in_name_) {
          if (c == ':') {
            trailer_in_name_ = false;
          } else if (!isTokenChar(static_cast<unsigned char>(c))) {
            return fail("invalid trailer field name");
          }
        } else if (c == '\r') {
          state_ = State::kTrailerLineLf;
        } else if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
          return fail("control character in trailer");
        }
        if (++trailer_bytes_ > kMaxTrailerBytes) return fail("trailer section too large");
        ++i;
        break;
      case State::kTrailerLineLf:
        if (c != '\n') return fail("bare CR in trailer");
        ++i;
        state_ = State::kTrailerLineStart;
        break;
      case State::kFinalLf:
        if (c != '\n') return fail("bare CR at end of chunked body");
        ++i;
        state_ = State::kDone;
        step.consumed = i;
        step.done = true;
        return step;
    }
  }
  step.consumed = i;
  step.done = state_ == State::kDone;
  return step;
}

}  // namespace lb::http
