#include "common/uri.h"

#include "common/address.h"

namespace lb::common {

std::string escapePathSegment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  // "." and ".." are unreserved but mean something to a path: encode them whole.
  if (out == ".") return "%2E";
  if (out == "..") return "%2E%2E";
  return out;
}

std::optional<std::string> parseAdminUrl(std::string_view url) {
  if (!url.starts_with("http://")) return std::nullopt;
  url.remove_prefix(7);
  if (url.ends_with("/")) url.remove_suffix(1);
  if (!parseHostPort(url, false)) return std::nullopt;
  return std::string(url);
}

}  // namespace lb::common
