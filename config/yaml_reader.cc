#include "config/yaml_reader.h"

#include <tuple>

namespace lb::config {

std::vector<ConfigError> readYaml(const std::function<YAML::Node()>& load,
                                  const std::string& source,
                                  const std::function<void(Reader&, const YAML::Node&)>& read) {
  Reader reader(source);
  try {
    YAML::Node root = load();
    if (!root || root.IsNull())
      reader.error(Mark{1, 1}, "", "the file is empty");
    else
      read(reader, root);
  } catch (const YAML::BadFile&) {
    reader.error(Mark{}, "", "cannot read the file");
  } catch (const YAML::ParserException& e) {
    reader.error(Mark{e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    reader.error(Mark{e.mark.line + 1, e.mark.column + 1}, "", e.msg);
  }
  std::vector<ConfigError> errors = reader.take();
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
  });
  return errors;
}

}  // namespace lb::config
