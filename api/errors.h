#pragma once
// The one table from an internal Status code to what the Lambda REST-JSON protocol puts on the
// wire: HTTP status, X-Amzn-Errortype, and the body member casing AWS uses for that type
// (control-plane.md §2).

#include <string>

#include "api/http.h"
#include "core/status.h"
#include "services/kinesis/error.h"

namespace esm::api {

Response lambda_error(const Status& s);
// The Kinesis JSON 1.1 table (api/errors_kinesis.cc): a stream service error on the wire.
Response kinesis_error(const kinesis::KinesisError& e);

// Model-layer message: `1 validation error detected: Value '<v>' at '<member>' failed to
// satisfy constraint: <constraint>`. Pass value "null" (unquoted) via value_is_null.
std::string validation_message(const std::string& value, const std::string& member, const std::string& constraint,
                               bool value_is_null = false);

}  // namespace esm::api
