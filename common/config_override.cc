// Applies "--set dotted.key=value" overrides to a YAML tree before it is
// decoded, so overridden values get the same checks as the file's.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

#include "common/config.h"
#include "common/config_internal.h"

namespace shoal {
namespace config_internal {
namespace {

// One step down the tree: a map key, or a list entry by index or by the
// entry's `name` (tables[transitions]).
struct Step {
  bool is_index = false;
  std::string text;
};

bool IsWord(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

// "a.b[0][x].c" -> a, b, [0], [x], c. False when malformed.
bool SplitKey(absl::string_view key, std::vector<Step>* steps) {
  for (absl::string_view part : absl::StrSplit(key, '.')) {
    const size_t bracket = part.find('[');
    if (!IsWord(part.substr(0, bracket))) return false;
    steps->push_back({false, std::string(part.substr(0, bracket))});
    absl::string_view rest =
        bracket == absl::string_view::npos ? "" : part.substr(bracket);
    while (!rest.empty()) {
      const size_t close = rest.find(']');
      if (rest[0] != '[' || close == absl::string_view::npos ||
          !IsWord(rest.substr(1, close - 1))) {
        return false;
      }
      steps->push_back({true, std::string(rest.substr(1, close - 1))});
      rest.remove_prefix(close + 1);
    }
  }
  return true;
}

// The value as a YAML scalar; "", "~" and "null" mean null.
YAML::Node ValueNode(absl::string_view value) {
  const std::string lower = absl::AsciiStrToLower(value);
  if (lower.empty() || lower == "~" || lower == "null") {
    return YAML::Node(YAML::NodeType::Null);
  }
  return YAML::Node(std::string(value));
}

// Finds the entry of list `list` named by `text` (an index or a name).
// Returns false with *why set when there is none.
bool FindEntry(const YAML::Node& list, const std::string& path,
               const std::string& text, size_t* index, std::string* why) {
  uint64_t i = 0;
  if (absl::SimpleAtoi(text, &i)) {
    if (i < list.size()) {
      *index = static_cast<size_t>(i);
      return true;
    }
    *why = absl::StrCat("index ", i, " is out of range (", path, " has ",
                        list.size(), " entries)");
    return false;
  }
  for (size_t j = 0; j < list.size(); ++j) {
    const YAML::Node entry = list[j];
    if (entry.IsMap() && entry["name"].IsScalar() &&
        entry["name"].Scalar() == text) {
      *index = j;
      return true;
    }
  }
  *why = absl::StrCat("no entry of ", path, " is named ", Quote(text));
  return false;
}

// The list a missing `path` stands for, so that `tables[0].x` and
// `network.hidden[1]` work on a file that leaves them to their defaults.
// Undefined when the default list is empty.
YAML::Node DefaultList(const std::string& path) {
  YAML::Node list(YAML::NodeType::Sequence);
  if (path == "tables") {
    YAML::Node table(YAML::NodeType::Map);
    table["name"] = TableConfig().name;
    list.push_back(table);
  } else if (path == "network.hidden") {
    for (int64_t width : NetworkConfig().hidden) list.push_back(width);
  } else {
    return YAML::Node();
  }
  return list;
}

// Applies one override; returns "" or what is wrong.
std::string ApplyOne(int n, const std::string& key, const std::string& value,
                     YAML::Node* root, ConfigContext* ctx) {
  std::vector<Step> steps;
  if (!SplitKey(key, &steps)) {
    return "malformed key (expected dotted.key, list[index] or "
           "tables[name])";
  }
  YAML::Node cur;
  cur.reset(*root);
  std::string path;
  std::vector<std::string> created;  // paths this override adds
  for (size_t s = 0; s < steps.size(); ++s) {
    const Step& step = steps[s];
    const bool last = s + 1 == steps.size();
    const std::string parent = path.empty() ? "the top level" : path;
    YAML::Node child;
    size_t index = 0;
    if (step.is_index) {
      if (!cur.IsSequence()) return absl::StrCat(parent, " is not a list");
      std::string why;
      if (!FindEntry(cur, path, step.text, &index, &why)) return why;
      absl::StrAppend(&path, "[", index, "]");
      child.reset(cur[index]);
    } else {
      if (!cur.IsMap()) return absl::StrCat(parent, " is not a map");
      path = path.empty() ? step.text : absl::StrCat(path, ".", step.text);
      const YAML::Node& const_cur = cur;
      if (const_cur[step.text].IsDefined()) child.reset(cur[step.text]);
    }
    if (last) {
      if (child.IsDefined() && (child.IsMap() || child.IsSequence())) {
        return absl::StrCat("only scalar fields can be overridden; ", path,
                            " is ", DescribeNode(child));
      }
      if (step.is_index) {
        cur[index] = ValueNode(value);
      } else {
        cur[step.text] = ValueNode(value);
      }
      created.push_back(path);
      for (const std::string& p : created) {
        ctx->SetOverrideSource(p, n, key, value, path);
      }
      return "";
    }
    if (!child.IsDefined() || child.IsNull()) {
      // A section the file leaves out: create it (a list with its default
      // entries when the next step indexes it).
      YAML::Node fresh(YAML::NodeType::Map);
      if (steps[s + 1].is_index) {
        fresh.reset(DefaultList(path));
        if (!fresh.IsDefined()) return absl::StrCat(path, " has no entries");
      }
      if (step.is_index) {
        cur[index] = fresh;
        child.reset(cur[index]);
      } else {
        cur[step.text] = fresh;
        child.reset(cur[step.text]);
      }
      created.push_back(path);
    }
    cur.reset(child);
  }
  return "";
}

}  // namespace

void ApplyOverrides(const ConfigOverrides& overrides, YAML::Node* root,
                    ConfigContext* ctx) {
  if (overrides.empty()) return;
  if (!root->IsDefined() || root->IsNull()) {
    root->reset(YAML::Node(YAML::NodeType::Map));
  }
  for (size_t i = 0; i < overrides.size(); ++i) {
    const auto& [key, value] = overrides[i];
    const std::string why =
        ApplyOne(static_cast<int>(i), key, value, root, ctx);
    if (!why.empty()) ctx->OverrideError(static_cast<int>(i), key, value, why);
  }
}

}  // namespace config_internal
}  // namespace shoal
