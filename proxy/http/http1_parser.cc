#include "proxy/http/http1_parser.h"

#include <algorithm>
#include <array>
#include <charconv>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lb::http {

namespace {

Http1HeadParser* self(llhttp_t* p) { return static_cast<Http1HeadParser*>(p->data); }

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Host = uri-host [ ":" port ]; reg-name characters, or an IP-literal in brackets.
bool validAuthority(std::string_view host) {
  if (host.empty()) return false;
  for (unsigned char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '[' || c == ']' ||
              c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' ||
              c == '+' || c == ',' || c == ';' || c == '=' || c == '%';
    if (!ok) return false;
  }
  return true;
}

bool validContentLength(std::string_view v, uint64_t* out) {
  if (v.empty() || v.size() > 18) return false;
  for (char c : v)
    if (c < '0' || c > '9') return false;
  std::from_chars(v.data(), v.data() + v.size(), *out);
  return true;
}

void splitTokens(std::string_view value, std::vector<std::string>* out) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view token = trimOws(value.substr(0, comma));
    if (!token.empty()) out->push_back(toLower(token));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// transfer-coding list elements: "gzip", "chunked;param" (parameters are dropped). Empty list
// elements are allowed (RFC 9110 5.6.1); a coding name must be a token.
bool parseCodings(std::string_view value, std::vector<std::string>* out) {
  while (true) {
    size_t comma = value.find(',');
    std::string_view element = value.substr(0, comma);
    std::string_view name = trimOws(element.substr(0, element.find(';')));
    if (!name.empty()) {
      for (unsigned char c : name)
        if (!isTokenChar(c)) return false;
      out->push_back(toLower(name));
    } else if (!trimOws(element).empty()) {
      return false;  // parameters without a coding
    }
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

// "Transfer_Encoding", "Content--Length": not framing fields to us, but servers that fold '_'
// into '-' (CGI, some frameworks) would read them as one. Such a name is refused outright.
// True when `name`, ignoring case and every '-' and '_', spells `letters` (lower case).
bool spellsIgnoringSeparators(std::string_view name, std::string_view letters) {
  if (name.size() < letters.size()) return false;  // most names: no need to look
  size_t i = 0;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    if (i == letters.size() || lower(c) != letters[i]) return false;
    ++i;
  }
  return i == letters.size();
}

bool looksLikeFramingField(std::string_view name) {
  if (spellsIgnoringSeparators(name, "contentlength"))
    return !equalsIgnoreCase(name, "content-length");
  if (spellsIgnoringSeparators(name, "transferencoding"))
    return !equalsIgnoreCase(name, "transfer-encoding");
  return false;
}

bool hasToken(const std::vector<std::string>& tokens, std::string_view token) {
  return std::find(tokens.begin(), tokens.end(), token) != tokens.end();
}

}  // namespace

namespace {
// tchar (RFC 9110 5.6.2), as a table: header names are checked byte by byte.
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = true;
  for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) t[c] = true;
  return t;
}();
}  // namespace

bool isTokenChar(unsigned char c) { return kTokenChar[c]; }

namespace {

// Request-target characters (RFC 9112 3.2, RFC 3986 3.3 and 3.4): pchar and '/' in the path,
// also '?' in the query. Beyond the RFC, what browsers send unescaped (the WHATWG URL
// standard's percent-encode sets): '[', ']' and '|' in paths, and also '{', '}', '^', '`' and
// '\' in queries; and bytes >= 0x80 (raw UTF-8), forwarded as sent. Never: controls, space,
// DEL, '"', '<', '>', and '\', '^', '`', '{', '}' in a path (backends that fold '\' into '/'
// would see another path than the route did).
constexpr std::array<uint8_t, 256> kTargetChar = [] {
  constexpr uint8_t kPath = 1, kQuery = 2;
  std::array<uint8_t, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = kPath | kQuery;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = kPath | kQuery;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = kPath | kQuery;
  for (unsigned char c : std::string_view("-._~!$&'()*+,;=:@/%[]|")) t[c] = kPath | kQuery;
  for (unsigned char c : std::string_view("?{}^`\\")) t[c] = kQuery;
  for (int c = 0x80; c <= 0xff; ++c) t[static_cast<size_t>(c)] = kPath | kQuery;
  return t;
}();

bool isHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

const char* checkPathAndQuery(std::string_view target) {
  uint8_t allowed = 1;  // the path's set until the first '?'
  for (size_t i = 0; i < target.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(target[i]);
    if (c == '?') allowed = 2;
    if (!(kTargetChar[c] & allowed)) return "invalid character in request target";
    // In the path only: a query's stray '%' ("?off=10%") is what browsers send as typed.
    if (c == '%' && allowed == 1 &&
        (i + 2 >= target.size() || !isHexDigit(target[i + 1]) || !isHexDigit(target[i + 2])))
      return "invalid percent-encoding in request target";
  }
  return nullptr;
}

bool equalsIgnoreCaseSlow(std::string_view a, std::string_view b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

static const std::string* findHeader(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers)
    if (equalsIgnoreCase(h.name, name)) return &h.value;
  return nullptr;
}
void RequestHead::clear() {
  method.clear();
  target.clear();
  path.clear();
  authority.clear();
  version_minor = 1;
  headers.clear();
  framing = BodyFraming::kNone;
  content_length = 0;
  transfer_codings.clear();
  keep_alive = true;
  expect_continue = false;
  connection_tokens.clear();
  upgrade.clear();
}

void ResponseHead::clear() {
  status = 0;
  reason.clear();
  version_minor = 1;
  headers.clear();
  framing = BodyFraming::kNone;
  content_length = 0;
  transfer_codings.clear();
  keep_alive = true;
  connection_tokens.clear();
}

const std::string* RequestHead::find(std::string_view name) const {
  return findHeader(headers, name);
}
const std::string* ResponseHead::find(std::string_view name) const {
  return findHeader(headers, name);
}

bool isHopByHop(std::string_view name, const std::vector<std::string>& connection_tokens) {
  // Called for every forwarded field: only names of a hop-by-hop field's length compare.
  switch (name.size()) {
    case 2:
      if (equalsIgnoreCaseSlow(name, "te")) return true;
      break;
    case 7:
      if (equalsIgnoreCaseSlow(name, "upgrade") || equalsIgnoreCaseSlow(name, "trailer"))
        return true;
      break;
    case 10:
      if (equalsIgnoreCaseSlow(name, "connection") || equalsIgnoreCaseSlow(name, "keep-alive"))
        return true;
      break;
    case 16:
      if (equalsIgnoreCaseSlow(name, "proxy-connection")) return true;
      break;
    case 17:
      if (equalsIgnoreCaseSlow(name, "transfer-encoding")) return true;
      break;
    case 18:
      if (equalsIgnoreCaseSlow(name, "proxy-authenticate")) return true;
      break;
    case 19:
      if (equalsIgnoreCaseSlow(name, "proxy-authorization")) return true;
      break;
    default:
      break;
  }
  for (const auto& t : connection_tokens)
    if (equalsIgnoreCase(name, t)) return true;
  return false;
}

Http1HeadParser::Http1HeadParser(Kind kind, HeadLimits limits) : kind_(kind), limits_(limits) {
  llhttp_settings_init(&settings_);
  settings_.on_url = onUrl;
  settings_.on_status = onStatus;
  settings_.on_header_field = onHeaderField;
  settings_.on_header_field_complete = onHeaderFieldComplete;
  settings_.on_header_value = onHeaderValue;
  settings_.on_header_value_complete = onHeaderValueComplete;
  settings_.on_headers_complete = onHeadersComplete;
  llhttp_init(&parser_, kind == Kind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, &settings_);
  parser_.data = this;
  reset();
}

void Http1HeadParser::reset(bool response_to_head) {
  llhttp_reset(&parser_);
  parser_.data = this;
  response_to_head_ = response_to_head;
  // The last head's fields keep their strings' buffers for the next head's (no allocation per
  // field per request once a connection's heads have been seen).
  if (headers_)
    for (Header& h : *headers_) spare_.push_back(std::move(h));
  // Only the head of this parser's kind is ever filled.
  if (kind_ == Kind::kRequest) {
    request_.clear();
    headers_ = &request_.headers;
  } else {
    response_.clear();
    headers_ = &response_.headers;
  }
  url_.clear();
  name_.clear();
  value_.clear();
  error_ = Error{};
  total_bytes_ = 0;
  line_bytes_ = 0;
  lines_ = 0;
  prev_cr_ = false;
  at_line_start_ = false;
  first_line_ = true;
}

int Http1HeadParser::onUrl(llhttp_t* p, const char* at, size_t len) noexcept {
  self(p)->url_.append(at, len);
  return 0;
}
int Http1HeadParser::onStatus(llhttp_t* p, const char* at, size_t len) noexcept {
  self(p)->response_.reason.append(at, len);
  return 0;
}
int Http1HeadParser::onHeaderField(llhttp_t* p, const char* at, size_t len) noexcept {
  self(p)->name_.append(at, len);
  return 0;
}
int Http1HeadParser::onHeaderFieldComplete(llhttp_t* p) noexcept { return 0; }
int Http1HeadParser::onHeaderValue(llhttp_t* p, const char* at, size_t len) noexcept {
  self(p)->value_.append(at, len);
  return 0;
}
int Http1HeadParser::onHeaderValueComplete(llhttp_t* p) noexcept {
  Http1HeadParser* s = self(p);
  if (s->headers_->size() >= s->limits_.max_headers) {
    s->error_ = clientError(ErrorCode::kHeadersTooLarge, "too many header fields");
    return -1;
  }
  if (s->spare_.empty()) {
    s->headers_->push_back({s->name_, s->value_});
  } else {
    s->headers_->push_back(std::move(s->spare_.back()));
    s->spare_.pop_back();
    s->headers_->back().name.assign(s->name_);
    s->headers_->back().value.assign(s->value_);
  }
  s->name_.clear();
  s->value_.clear();
  return 0;
}
int Http1HeadParser::onHeadersComplete(llhttp_t* p) noexcept {
  // Stop right after the head: the body is framed by BodyDecoder, not llhttp.
  return HPE_PAUSED;
}

namespace {
// Bytes the head scanner must look at one by one: controls but HTAB (CR and LF end lines,
// the others are never valid anywhere in a head: request line, reason phrase, field names
// and values alike), and DEL. Everything else only counts.
constexpr std::array<bool, 256> kScanSpecial = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = c != '\t';
  t[0x7f] = true;
  return t;
}();

// How many bytes from `p` are ordinary (see kScanSpecial): 16 at a time where SSE2 is there
// (every x86-64), the table for the rest.
size_t ordinaryRun(const char* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i ctl_max = _mm_set1_epi8(0x1f), tab = _mm_set1_epi8('\t'), del = _mm_set1_epi8(0x7f);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl_max), v);  // v <= 0x1f, unsigned
    const __m128i hit =
        _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl), _mm_cmpeq_epi8(v, del));
    if (const int mask = _mm_movemask_epi8(hit))
      return i + static_cast<size_t>(__builtin_ctz(mask));
  }
#endif
  while (i < n && !kScanSpecial[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}
}  // namespace

bool Http1HeadParser::scan(const char* data, size_t len) {
  size_t i = 0;
  while (i < len) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    if (!prev_cr_ && !at_line_start_ && !kScanSpecial[c]) {
      // A run of ordinary bytes: only the length limits apply. Which limit a byte would
      // break first is the one reported, as if the run were walked byte by byte.
      const size_t run = 1 + ordinaryRun(data + i + 1, len - i - 1);
      const size_t end = i + run;
      const size_t to_total = limits_.max_header_bytes - total_bytes_ + 1;  // bytes to exceed
      const size_t line_max = size_t{limits_.max_request_line} + 2;
      const size_t to_line =
          first_line_ ? (line_bytes_ < line_max ? line_max - line_bytes_ + 1 : 1) : SIZE_MAX;
      if (run >= to_line && to_line <= to_total) {
        error_ = clientError(ErrorCode::kUriTooLong, "request line too long");
        return false;
      }
      if (run >= to_total) {
        error_ = clientError(ErrorCode::kHeadersTooLarge, "header section too large");
        return false;
      }
      total_bytes_ += run;
      line_bytes_ += run;
      i = end;
      continue;
    }
    ++i;
    ++total_bytes_;
    ++line_bytes_;
    if (c == 0) {
      error_ = clientError(ErrorCode::kBadRequest, "NUL byte in message head");
      return false;
    }
    if (prev_cr_ && c != '\n') {
      error_ = clientError(ErrorCode::kBadRequest, "bare CR in message head");
      return false;
    }
    if (c == '\n' && !prev_cr_) {
      error_ = clientError(ErrorCode::kBadRequest, "bare LF in message head");
      return false;
    }
    if (at_line_start_ && (c == ' ' || c == '\t')) {
      error_ = clientError(ErrorCode::kBadRequest, "obs-fold or whitespace before a field line");
      return false;
    }
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
      error_ = clientError(ErrorCode::kBadRequest, "control character in message head");
      return false;
    }
    at_line_start_ = false;
    prev_cr_ = c == '\r';
    if (c == '\n') {
      if (first_line_ && line_bytes_ - 2 > limits_.max_request_line) {
        error_ = clientError(ErrorCode::kUriTooLong, "request line too long");
        return false;
      }
      first_line_ = false;
      at_line_start_ = true;
      line_bytes_ = 0;
      ++lines_;
    } else if (first_line_ && line_bytes_ > limits_.max_request_line + 2) {
      error_ = clientError(ErrorCode::kUriTooLong, "request line too long");
      return false;
    }
    if (total_bytes_ > limits_.max_header_bytes) {
      error_ = clientError(ErrorCode::kHeadersTooLarge, "header section too large");
      return false;
    }
  }
  return true;
}

Http1HeadParser::Result Http1HeadParser::feed(const char* data, size_t len) {
  Result result = feedHead(data, len);
  // Whatever is wrong with a response head, it is the upstream's fault: 502, never 400.
  if (result.status == Status::kError && kind_ == Kind::kResponse)
    result.error = upstreamError(ErrorCode::kBadResponse, false, result.error.detail);
  return result;
}

Http1HeadParser::Result Http1HeadParser::feedHead(const char* data, size_t len) {
  Result result;
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  size_t consumed = len;
  if (err != HPE_OK) consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
  result.consumed = consumed;
  // The raw scan covers what llhttp consumed, so a violation inside the head is caught even
  // where llhttp saw nothing wrong.
  if (!scan(data, consumed)) {
    result.status = Status::kError;
    result.error = error_;
    return result;
  }
  if (err == HPE_OK) return result;  // need more
  if (err != HPE_PAUSED) {
    result.status = Status::kError;
    if (!error_) error_ = clientError(ErrorCode::kBadRequest, "malformed message head");
    // The scanner sees a too-long line only once it ends; report limits first.
    result.error = error_;
    return result;
  }
  Error e = kind_ == Kind::kRequest ? finishRequest() : finishResponse();
  if (e) {
    result.status = Status::kError;
    result.error = e;
    return result;
  }
  result.status = Status::kDone;
  return result;
}

Error Http1HeadParser::checkHeaders(std::vector<Header>& headers, int minor, bool is_request,
                                    uint64_t* cl, bool* has_cl, bool* chunked,
                                    std::string* transfer_codings,
                                    std::vector<std::string>* connection_tokens) {
  auto fail = [&](const char* why) {
    return is_request ? clientError(ErrorCode::kBadRequest, why)
                      : upstreamError(ErrorCode::kBadResponse, false, why);
  };
  std::vector<std::string> codings;  // every Transfer-Encoding field, in order
  bool has_te = false;
  *has_cl = false;
  *chunked = false;
  for (Header& h : headers) {
    if (h.name.empty()) return fail("empty header name");
    for (unsigned char c : h.name)
      if (!kTokenChar[c]) return fail("invalid character in header name");
    if (looksLikeFramingField(h.name)) return fail("header name mimics a framing field");
    // Control characters were refused by scan() for the whole head.
    std::string_view v = trimOws(h.value);
    if (v.size() != h.value.size()) {
      const size_t start = static_cast<size_t>(v.data() - h.value.data());
      h.value.resize(start + v.size());  // in place: the buffer stays for the next request
      h.value.erase(0, start);
    }
    if (equalsIgnoreCase(h.name, "content-length")) {
      if (*has_cl) return fail("duplicate Content-Length");
      if (!validContentLength(h.value, cl)) return fail("invalid Content-Length");
      *has_cl = true;
    } else if (equalsIgnoreCase(h.name, "transfer-encoding")) {
      has_te = true;
      if (!parseCodings(h.value, &codings)) return fail("invalid Transfer-Encoding");
    } else if (equalsIgnoreCase(h.name, "connection")) {
      splitTokens(h.value, connection_tokens);
    }
  }
  if (has_te) {
    // chunked exactly once, and last (RFC 9112 6.1): anything else leaves the body length
    // to guesswork, which is how requests get smuggled.
    if (codings.empty() || codings.back() != "chunked")
      return fail("Transfer-Encoding does not end in chunked");
    if (std::count(codings.begin(), codings.end(), "chunked") != 1)
      return fail("chunked applied more than once");
    codings.pop_back();
    // A request coding lbproxy does not decode (RFC 9112 6.1: 501): the body could not be
    // checked, and a backend that does not know it either would read it another way.
    if (is_request && !codings.empty())
      return clientError(ErrorCode::kNotImplemented, "transfer coding other than chunked");
    transfer_codings->clear();
    for (const std::string& c : codings) {
      if (c == "identity") continue;  // a no-op coding (removed in RFC 7230); nothing to declare
      if (!transfer_codings->empty()) transfer_codings->append(", ");
      transfer_codings->append(c);
    }
    *chunked = true;
  }
  if (has_te && *has_cl) return fail("both Content-Length and Transfer-Encoding");
  if (has_te && minor == 0) return fail("Transfer-Encoding in an HTTP/1.0 message");
  return {};
}

Error Http1HeadParser::finishRequest() {
  RequestHead& r = request_;
  if (parser_.http_major != 1 || parser_.http_minor > 1)
    return clientError(ErrorCode::kBadRequest, "unsupported HTTP version");
  r.version_minor = parser_.http_minor;
  r.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  if (parser_.method == HTTP_CONNECT)
    return clientError(ErrorCode::kBadRequest, "CONNECT is not supported");
  r.target.assign(url_);
  // A fragment is never part of a request target (RFC 9112 3.2): drop it, so that routing and
  // the backend see the same path and no '#' is ever forwarded.
  if (size_t hash = r.target.find('#'); hash != std::string::npos) r.target.resize(hash);
  if (r.target.empty()) return clientError(ErrorCode::kBadRequest, "empty request target");
  // Controls, space and DEL are refused in any form; bytes >= 0x80 (raw UTF-8 paths) pass
  // through as sent.
  for (unsigned char c : r.target)
    if (c <= 0x20 || c == 0x7f) return clientError(ErrorCode::kBadRequest, "invalid target byte");

  uint64_t cl = 0;
  bool has_cl, chunked;
  if (Error e = checkHeaders(r.headers, r.version_minor, true, &cl, &has_cl, &chunked,
                             &r.transfer_codings, &r.connection_tokens))
    return e;

  const std::string* host = nullptr;
  for (const Header& h : r.headers) {
    if (!equalsIgnoreCase(h.name, "host")) continue;
    if (host) return clientError(ErrorCode::kBadRequest, "duplicate Host");
    host = &h.value;
  }
  if (!host && r.version_minor == 1) return clientError(ErrorCode::kBadRequest, "missing Host");
  if (host && !validAuthority(*host)) return clientError(ErrorCode::kBadRequest, "invalid Host");

  if (r.target.front() == '/') {
    if (const char* why = checkPathAndQuery(r.target))
      return clientError(ErrorCode::kBadRequest, why);
    r.path = r.target;
    if (host) r.authority = *host;
  } else if (r.target == "*" && r.method == "OPTIONS") {
    r.path = r.target;
    if (host) r.authority = *host;
  } else {
    // absolute-form: its authority wins over Host (RFC 9112 3.2.2).
    std::string_view t = r.target;
    size_t scheme_end = t.find("://");
    if (scheme_end == std::string_view::npos)
      return clientError(ErrorCode::kBadRequest, "invalid request target");
    std::string scheme = toLower(t.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https")
      return clientError(ErrorCode::kBadRequest, "unsupported scheme in request target");
    std::string_view rest = t.substr(scheme_end + 3);
    size_t path_start = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, path_start);
    if (!validAuthority(authority) || authority.find('@') != std::string_view::npos)
      return clientError(ErrorCode::kBadRequest, "invalid authority in request target");
    r.authority = std::string(authority);
    r.path = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
    if (r.path.front() == '?') r.path.insert(0, "/");
    if (const char* why = checkPathAndQuery(r.path))
      return clientError(ErrorCode::kBadRequest, why);
  }

  if (chunked) {
    r.framing = BodyFraming::kChunked;
  } else if (has_cl && cl > 0) {
    r.framing = BodyFraming::kContentLength;
    r.content_length = cl;
  }
  r.keep_alive = r.version_minor == 1 ? !hasToken(r.connection_tokens, "close")
                                      : hasToken(r.connection_tokens, "keep-alive");
  if (const std::string* expect = r.find("expect"))
    r.expect_continue = equalsIgnoreCase(*expect, "100-continue");
  // An Upgrade field counts only when Connection lists it (RFC 9110 7.8), and only in
  // HTTP/1.1; several fields combine into one list.
  if (r.version_minor == 1 && hasToken(r.connection_tokens, "upgrade")) {
    for (const Header& h : r.headers) {
      if (!equalsIgnoreCase(h.name, "upgrade") || h.value.empty()) continue;
      if (!r.upgrade.empty()) r.upgrade.append(", ");
      r.upgrade.append(h.value);
    }
  }
  return {};
}

Error Http1HeadParser::finishResponse() {
  ResponseHead& r = response_;
  if (parser_.http_major != 1 || parser_.http_minor > 1)
    return upstreamError(ErrorCode::kBadResponse, false, "unsupported HTTP version");
  r.version_minor = parser_.http_minor;
  r.status = parser_.status_code;
  if (r.status < 100 || r.status > 599)
    return upstreamError(ErrorCode::kBadResponse, false, "invalid status code");
  uint64_t cl = 0;
  bool has_cl, chunked;
  if (Error e = checkHeaders(r.headers, r.version_minor, false, &cl, &has_cl, &chunked,
                             &r.transfer_codings, &r.connection_tokens))
    return e;
  r.keep_alive = r.version_minor == 1 ? !hasToken(r.connection_tokens, "close")
                                      : hasToken(r.connection_tokens, "keep-alive");
  if (response_to_head_ || r.status < 200 || r.status == 204 || r.status == 304) {
    r.framing = BodyFraming::kNone;
    r.content_length = has_cl ? cl : 0;  // describes the representation, kept for HEAD
  } else if (chunked) {
    r.framing = BodyFraming::kChunked;
  } else if (has_cl) {
    r.framing = cl > 0 ? BodyFraming::kContentLength : BodyFraming::kNone;
    r.content_length = cl;
  } else {
    r.framing = BodyFraming::kUntilClose;
    r.keep_alive = false;
  }
  return {};
}

}  // namespace lb::http
