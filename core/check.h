#pragma once
// ESM_DCHECK(cond): a contract ("worker thread only", "on the poller's strand") checked in
// debug builds and in builds with ESMD_DCHECKS (the sanitizer builds turn it on), compiled out
// in release ones, like leveldb's mutex_.AssertHeld(). A failure names the contract and aborts.

#include <cstdio>
#include <cstdlib>

#if defined(NDEBUG) && !defined(ESMD_DCHECKS)
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
