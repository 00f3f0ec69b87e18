#include "proxy/http/error.h"

namespace lb::http {

int statusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return 200;
    case ErrorCode::kBadRequest:
      return 400;
    case ErrorCode::kRequestTimeout:
      return 408;
    case ErrorCode::kBodyTooLarge:
      return 413;
    case ErrorCode::kUriTooLong:
      return 414;
    case ErrorCode::kHeadersTooLarge:
      return 431;
    case ErrorCode::kNoRoute:
      return 404;
    case ErrorCode::kNotImplemented:
      return 501;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kNoHealthyHost:
      return 503;
    case ErrorCode::kConnectFailed:
      return 502;
    case ErrorCode::kUpstreamTls:
      return 502;
    case ErrorCode::kUpstreamReset:
      return 502;
    case ErrorCode::kBadResponse:
      return 502;
    case ErrorCode::kUpstreamTimeout:
      return 504;
    case ErrorCode::kOverloaded:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

const char* labelFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return "none";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kRequestTimeout:
      return "request_timeout";
    case ErrorCode::kBodyTooLarge:
      return "body_too_large";
    case ErrorCode::kUriTooLong:
      return "uri_too_long";
    case ErrorCode::kHeadersTooLarge:
      return "headers_too_large";
    case ErrorCode::kNoRoute:
      return "no_route";
    case ErrorCode::kNotImplemented:
      return "not_implemented";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kNoHealthyHost:
      return "no_healthy_host";
    case ErrorCode::kConnectFailed:
      return "connect_failed";
    case ErrorCode::kUpstreamTls:
      return "upstream_tls_failed";
    case ErrorCode::kUpstreamReset:
      return "upstream_reset";
    case ErrorCode::kBadResponse:
      return "bad_response";
    case ErrorCode::kUpstreamTimeout:
      return "upstream_timeout";
    case ErrorCode::kOverloaded:
      return "upstream_overloaded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

}  // namespace lb::http
