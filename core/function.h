#pragma once
// A function esmd can invoke: its name and how to reach it (server issue §6).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace esm {

enum class TargetKind { kHttp, kExec, kBuiltinOk, kBuiltinFail };

struct FunctionSpec {
  std::string name;
  std::string target;       // http://..., exec:COMMAND, builtin:ok, builtin:fail
  int timeout_ms = 3000;    // Lambda's default function timeout
  int concurrency = 1;      // parallel requests allowed to the target (an RIE takes one)
};

// Checks the TARGET syntax; the kind on success.
Result<TargetKind> parse_target(std::string_view target);
// True for a Lambda function name (1..64 of [A-Za-z0-9-_]).
bool is_valid_function_name(std::string_view name);

}  // namespace esm
