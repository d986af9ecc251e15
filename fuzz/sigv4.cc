// SigV4: the region App::dispatch reads from `Authorization: AWS4-HMAC-SHA256
// Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`, and the SQS SenderId from the same
// header. The region, when found, must be a substring of the header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/http.h"
#include "api/sqs/operation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  const std::string region = esm::api::region_from_authorization(header);
  if (!region.empty() && header.find(region) == std::string_view::npos) std::abort();
  esm::api::Request req;
  req.headers.emplace_back("authorization", std::string(header));
  (void)esm::api::sqs_wire::sender_id_of(req);
  return 0;
}
