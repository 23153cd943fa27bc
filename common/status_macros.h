// SHOAL_RETURN_IF_ERROR and SHOAL_ASSIGN_OR_RETURN over absl::Status and
// absl::StatusOr<T>, as in Reverb's platform/status_macros.h.
//
//   SHOAL_RETURN_IF_ERROR(table->Insert(item));
//   SHOAL_ASSIGN_OR_RETURN(std::unique_ptr<Table> table, Table::Create(cfg));
//   SHOAL_ASSIGN_OR_RETURN(auto size, ReadSize(path));
#ifndef SHOAL_COMMON_STATUS_MACROS_H_
#define SHOAL_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) once; returns it from the enclosing
// function when it is not OK.
#define SHOAL_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status shoal_status_ = (expr);         \
    if (ABSL_PREDICT_FALSE(!shoal_status_.ok())) { \
      return shoal_status_;                        \
    }                                              \
  } while (false)

#define SHOAL_STATUS_CONCAT_INNER_(a, b) a##b
#define SHOAL_STATUS_CONCAT_(a, b) SHOAL_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>) once; returns its status when it
// is not OK, else moves its value into `lhs` (a declaration or an lvalue).
#define SHOAL_ASSIGN_OR_RETURN(lhs, rexpr) \
  SHOAL_ASSIGN_OR_RETURN_IMPL_(            \
      SHOAL_STATUS_CONCAT_(shoal_statusor_, __LINE__), lhs, rexpr)

#define SHOAL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) {                \
    return std::move(statusor).status();                   \
  }                                                        \
  lhs = std::move(statusor).value()

#endif  // SHOAL_COMMON_STATUS_MACROS_H_
