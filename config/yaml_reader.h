// The YAML walker shared by the config loaders (lbproxy's and lbcontrol's): reads typed values
// and collects every error with file:line:column and the field path. Setup code, any thread;
// included only by loader .cc files (it pulls in yaml-cpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/values.h"

namespace lb::config {

inline Mark markOf(const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

inline std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Walks the YAML tree, filling the model and collecting every error it meets.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void error(const Mark& mark, const std::string& path, const std::string& message) {
    errors_.push_back({file_, mark, path, message});
  }
  void error(const YAML::Node& node, const std::string& path, const std::string& message) {
    error(markOf(node), path, message);
  }

  // Every key of a map must be known and appear once: a typo is never silently ignored.
  bool expectMap(const YAML::Node& node, const std::string& path,
                 std::initializer_list<const char*> allowed) {
    if (!node.IsMap()) {
      error(node, path, "expected a mapping");
      return false;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string key_path = path.empty() ? key : path + "." + key;
      if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; }) ==
          allowed.end()) {
        std::string hint;
        for (const char* a : allowed) hint += hint.empty() ? a : std::string(", ") + a;
        error(it->first, key_path,
              "unknown field " + quoted(key) + " (expected one of: " + hint + ")");
      } else if (!seen.insert(key).second) {
        error(it->first, key_path, "duplicate field " + quoted(key));
      }
    }
    return true;
  }

  bool scalar(const YAML::Node& node, const std::string& path, std::string* out) {
    if (!node.IsScalar()) {
      error(node, path, "expected a scalar value");
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  void string(const YAML::Node& map, const char* key, const std::string& path, std::string* out,
              bool required) {
    YAML::Node node = map[key];
    if (!node) {
      if (required) error(map, join(path, key), "missing required field");
      return;
    }
    std::string value;
    if (!scalar(node, join(path, key), &value)) return;
    if (required && value.empty()) {
      error(node, join(path, key), "must not be empty");
      return;
    }
    *out = value;
  }

  void duration(const YAML::Node& map, const char* key, const std::string& path, Duration* out,
                bool allow_zero = false) {
    YAML::Node node = map[key];
    if (!node) return;
    std::string text;
    if (!scalar(node, join(path, key), &text)) return;
    auto value = parseDuration(text);
    if (!value) {
      error(node, join(path, key),
            "invalid duration " + quoted(text) + " (use a number with ms, s, m or h, e.g. 250ms)");
    } else if (value->count() == 0 && !allow_zero) {
      error(node, join(path, key), "must be greater than 0");
    } else {
      *out = *value;
    }
  }

  template <typename T>
  void number(const YAML::Node& map, const char* key, const std::string& path, T* out, uint64_t min,
              uint64_t max, bool size_units = false) {
    YAML::Node node = map[key];
    if (!node) return;
    std::string text;
    if (!scalar(node, join(path, key), &text)) return;
    std::optional<uint64_t> value;
    if (size_units || text.find_first_not_of("0123456789") == std::string::npos)
      value = parseSize(text);
    if (!value) {
      error(node, join(path, key),
            "invalid number " + quoted(text) + (size_units ? " (e.g. 8192 or 8KiB)" : ""));
    } else if (*value < min || *value > max) {
      error(node, join(path, key),
            "must be between " + std::to_string(min) + " and " + std::to_string(max));
    } else {
      *out = static_cast<T>(*value);
    }
  }

  void boolean(const YAML::Node& map, const char* key, const std::string& path, bool* out) {
    YAML::Node node = map[key];
    if (!node) return;
    std::string text;
    if (!scalar(node, join(path, key), &text)) return;
    if (text == "true")
      *out = true;
    else if (text == "false")
      *out = false;
    else
      error(node, join(path, key), "expected true or false, got " + quoted(text));
  }

  // A fraction between 0 and 1, e.g. 0.001.
  void fraction(const YAML::Node& map, const char* key, const std::string& path, double* out) {
    YAML::Node node = map[key];
    if (!node) return;
    std::string text;
    if (!scalar(node, join(path, key), &text)) return;
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(v >= 0 && v <= 1))
      error(node, join(path, key),
            "expected a fraction between 0 and 1, e.g. 0.001, got " + quoted(text));
    else
      *out = v;
  }

  static std::string join(const std::string& path, const char* key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string index(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  std::vector<ConfigError> take() { return std::move(errors_); }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// Parses the YAML `load` returns with `read` filling the model; catches yaml-cpp's exceptions
// and returns every error sorted by position.
std::vector<ConfigError> readYaml(const std::function<YAML::Node()>& load,
                                  const std::string& source,
                                  const std::function<void(Reader&, const YAML::Node&)>& read);

}  // namespace lb::config
