// A route's header edits (docs/routing.md, request_headers / response_headers): fields it sets,
// each replacing every field of that name, and fields it removes. Built once per snapshot;
// read by every worker. Pure; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/message.h"

namespace lb::http {

struct HeaderEdits {
  std::vector<Header> set;          // in the file's order
  std::vector<std::string> remove;  // names, any case

  bool empty() const { return set.empty() && remove.empty(); }
  // A field of this name does not go out as it came: removed, or replaced by one of `set`.
  bool drops(std::string_view name) const;
  // Removes what drops() names from `headers`, then appends `set`.
  void apply(std::vector<Header>* headers) const;
};

}  // namespace lb::http
