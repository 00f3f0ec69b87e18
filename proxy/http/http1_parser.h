// HTTP/1 message-head parser: llhttp in strict mode plus the checks llhttp 8.1.0 misses
// (bare CR/LF/NUL, obs-fold, empty names, '#' in the target, HTTP/0.9 and 2.0, TE on 1.0,
// CL with TE, duplicate or invalid CL, missing or duplicate Host) and size limits.
//
// It parses the head only and stops right after it: body framing belongs to BodyDecoder, so
// the proxy never relays framing bytes it did not check itself. No sockets: the caller feeds
// bytes it owns. One instance per connection direction; owner thread only; not movable
// (llhttp keeps a pointer back to it).
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/http/error.h"
#include "proxy/http/head_limits.h"
#include "proxy/http/message.h"

namespace lb::http {

class Http1HeadParser {
 public:
  enum class Kind { kRequest, kResponse };
  enum class Status { kNeedMore, kDone, kError };
  struct Result {
    Status status = Status::kNeedMore;
    size_t consumed = 0;  // bytes of `data` that belong to the head (all of them if kNeedMore)
    Error error;          // set when kError
  };

  Http1HeadParser(Kind kind, HeadLimits limits);
  Http1HeadParser(const Http1HeadParser&) = delete;
  Http1HeadParser& operator=(const Http1HeadParser&) = delete;

  // Feeds the next bytes of a head. After kDone the head is in request()/response() and the
  // parser must be reset() before the next message. After kError it must not be fed again.
  Result feed(const char* data, size_t len);

  // Prepares for the next message. For responses, say whether the request was HEAD: its
  // response carries no body whatever its headers say.
  void reset(bool response_to_head = false);
  // Between messages: the limits for the next one (a pooled parser serves many listeners).
  void setLimits(const HeadLimits& limits) { limits_ = limits; }

  // True once any byte of the current head has been fed (for "idle" vs "reading a request").
  bool started() const { return total_bytes_ > 0; }
  // Bytes of the current head fed so far.
  size_t headBytes() const { return total_bytes_; }

  RequestHead& request() { return request_; }
  ResponseHead& response() { return response_; }

 private:
  static int onUrl(llhttp_t* p, const char* at, size_t len) noexcept;
  static int onStatus(llhttp_t* p, const char* at, size_t len) noexcept;
  static int onHeaderField(llhttp_t* p, const char* at, size_t len) noexcept;
  static int onHeaderFieldComplete(llhttp_t* p) noexcept;
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len) noexcept;
  static int onHeaderValueComplete(llhttp_t* p) noexcept;
  static int onHeadersComplete(llhttp_t* p) noexcept;

  Result feedHead(const char* data, size_t len);
  // Raw checks on the bytes llhttp consumed; returns false and sets error_ on a violation.
  bool scan(const char* data, size_t len);
  Error finishRequest();
  Error finishResponse();
  Error checkHeaders(std::vector<Header>& headers, int minor, bool is_request, uint64_t* cl,
                     bool* has_cl, bool* chunked, std::string* transfer_codings,
                     std::vector<std::string>* connection_tokens);

  Kind kind_;
  HeadLimits limits_;
  llhttp_t parser_;
  llhttp_settings_t settings_;
  bool response_to_head_ = false;

  RequestHead request_;
  ResponseHead response_;
  std::vector<Header>* headers_ = nullptr;  // request_.headers or response_.headers
  std::vector<Header> spare_;               // fields of earlier heads, reused for their buffers
  std::string url_;
  std::string name_;
  std::string value_;
  Error error_;

  // Scanner state, carried across feeds.
  size_t total_bytes_ = 0;
  size_t line_bytes_ = 0;
  uint32_t lines_ = 0;
  bool prev_cr_ = false;
  bool at_line_start_ = false;
  bool first_line_ = true;
};

// RFC 9110 token characters.
bool isTokenChar(unsigned char c);
// Why an origin-form request target (path and query, no fragment) is outside what lbproxy
// forwards (RFC 9112 3.2 with the browser exceptions in http1_parser.cc), or null.
const char* checkPathAndQuery(std::string_view target);

}  // namespace lb::http
