#pragma once
// Random version-4 UUIDs, lower case, as Lambda returns them.

#include <string>
#include <string_view>

namespace esm {

std::string new_uuid();
// True for the 8-4-4-4-12 hex form, either case.
bool looks_like_uuid(std::string_view s);

}  // namespace esm
