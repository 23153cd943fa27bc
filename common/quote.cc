#include "common/quote.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace shoal {

std::string Quote(absl::string_view text) {
  std::string shown =
      absl::StrCat("'", absl::CEscape(text.substr(0, kMaxQuotedBytes)), "'");
  if (text.size() > kMaxQuotedBytes) {
    absl::StrAppend(&shown, "... (", text.size(), " bytes)");
  }
  return shown;
}

}  // namespace shoal
