#pragma once
// Functions registered at run time (PUT /_esmd/functions/{name}), kept across restarts.
// Called on the DbWorker thread only.

#include <string>
#include <vector>

#include "core/function.h"
#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

// Every registered function; a failed read is an error.
Result<std::vector<FunctionSpec>> load_functions(Connection& c);
Status put_function(Connection& c, const FunctionSpec& f);
// NotFound when no function has that name.
Status delete_function(Connection& c, const std::string& name);

}  // namespace esm::storage
