// Quote(): the one way an error message shows a value that came from
// outside (a client's table name, a config scalar, a file path): in single
// quotes, non-printable bytes escaped, cut after kMaxQuotedBytes with the
// full size said, so an echo is one short line whatever was sent.
// Stateless and thread-safe.
#ifndef SHOAL_COMMON_QUOTE_H_
#define SHOAL_COMMON_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace shoal {

// Bytes of the input a quote shows at most.
inline constexpr size_t kMaxQuotedBytes = 64;

// "'cartpole'"; "'\\377x'" for bytes that are not printable ASCII;
// "'aaaa...'... (1048576 bytes)" for input longer than kMaxQuotedBytes.
std::string Quote(absl::string_view text);

}  // namespace shoal

#endif  // SHOAL_COMMON_QUOTE_H_
