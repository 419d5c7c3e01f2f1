// Invariant checks for "impossible after start-up" conditions (tier 3 in
// docs/design/errors.md): print where and why, then abort. Never used for input validation.
#pragma once

#include <cstdio>
#include <cstdlib>

#define WA_CHECK(cond)                                                                  \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
