// Expected failures are values (docs/design/errors.md): boost::system::result<T> with a
// per-module error enum and category. Exceptions mean bugs.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace base {

using boost::system::error_code;
template <class T, class E = error_code>
using Result = boost::system::result<T, E>;

}  // namespace base

// Propagates the error of a result-returning expression, else yields its value.
// Usage: auto v = WA_TRY(ParseThing(in));
#define WA_TRY(expr)                                         \
  ({                                                         \
    auto wa_try_result_ = (expr);                            \
    if (!wa_try_result_) return wa_try_result_.error();      \
    std::move(*wa_try_result_);                              \
  })
