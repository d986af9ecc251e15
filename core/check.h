#pragma once
// ESM_DCHECK(cond): a contract ("worker thread only", "on the poller's strand") checked in
// debug and sanitizer builds and compiled out in release ones (NDEBUG), like leveldb's
// mutex_.AssertHeld(). A failure names the contract and aborts.

#include <cstdio>
#include <cstdlib>

#ifdef NDEBUG
#define ESM_DCHECK(cond) \
  do {                   \
  } while (false && (cond))
#else
#define ESM_DCHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: contract violated: %s\n", __FILE__, __LINE__, #cond);     \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
#endif
