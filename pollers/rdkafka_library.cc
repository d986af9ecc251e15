#include "pollers/rdkafka_library.h"

#include <dlfcn.h>

namespace esm::pollers {
namespace {

struct Loaded {
  RdKafkaLibrary library;
  std::optional<std::string> error;
};

Loaded load() {
  Loaded out;
  // RTLD_NODELETE: its threads may outlive a consumer; the library stays for the process.
  void* handle = dlopen("librdkafka.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle) {
    const char* why = dlerror();
    out.error = std::string("cannot load librdkafka (Debian's librdkafka1): ") + (why ? why : "unknown error");
    return out;
  }
#define ESMD_RDKAFKA_RESOLVE(name)                                                             \
  out.library.name = reinterpret_cast<decltype(out.library.name)>(dlsym(handle, #name));      \
  if (!out.library.name && !out.error) out.error = "librdkafka has no " #name " (esmd needs 2.0 or later)";
  ESMD_RDKAFKA_FUNCTIONS(ESMD_RDKAFKA_RESOLVE)
#undef ESMD_RDKAFKA_RESOLVE
  return out;
}

const Loaded& loaded() {
  static const Loaded once = load();
  return once;
}

}  // namespace

std::optional<std::string> load_rdkafka() { return loaded().error; }

const RdKafkaLibrary& rdkafka() { return loaded().library; }

}  // namespace esm::pollers
