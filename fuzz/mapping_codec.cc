// The Lambda event-source-mapping codec, driven as LambdaApi::create and ::update drive it: the
// body parsed (api/mapping_codec.h), the source classified from its ARN, the request merged
// over the kind's defaults, the source-kind rules checked (FilterCriteria compiled), the Kafka
// consumer group defaulted, and the mapping encoded back as the 202 answer. The first byte
// chooses Create or Update (and, for Update, the kind of the stored mapping); the rest is the
// body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <rapidjson/document.h>

#include "api/lambda_api.h"
#include "api/mapping_codec.h"
#include "core/arn.h"

using namespace esm;
using namespace esm::api;

namespace {

const char* block_of(SourceKind kind) {
  return kind == SourceKind::kMsk ? "AmazonManagedKafkaEventSourceConfig" : "SelfManagedKafkaEventSourceConfig";
}

// The answer must be one JSON object.
void check_encoded(const Mapping& m) {
  for (bool in_list : {false, true}) {
    const std::string out = encode_mapping(m, in_list);
    rapidjson::Document d;
    d.Parse(out.c_str(), out.size());
    if (d.HasParseError() || !d.IsObject()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool is_create = (data[0] & 1) == 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parsed = parse_mapping_request(body, is_create);
  if (!parsed) return 0;
  const MappingRequest& r = *parsed;

  Mapping m;
  m.uuid = "a1b2c3d4-5678-90ab-cdef-111111111111";
  m.region = "us-east-1";
  m.account = "000000000000";
  m.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
  if (is_create) {
    if (r.event_source_arn) {
      auto kind = classify_source(*r.event_source_arn);
      if (!kind) return 0;
      m.kind = *kind;
      m.event_source_arn = *r.event_source_arn;
      if (!parse_arn(m.event_source_arn)) std::abort();  // classify_source accepted it
      if (m.kind == SourceKind::kSqs) m.fifo = m.event_source_arn.ends_with(".fifo");
    } else if (r.bootstrap_servers) {
      m.kind = SourceKind::kSelfManagedKafka;
      m.bootstrap_servers = *r.bootstrap_servers;
    } else {
      return 0;
    }
    m.batch_size = m.kind == SourceKind::kSqs ? 10 : 100;
    m.starting_position = r.starting_position;
    m.starting_position_ts = r.starting_position_ts;
    if (r.topics) m.topics = *r.topics;
  } else {
    // An update of a stored mapping of the kind the first byte names.
    static const SourceKind kinds[] = {SourceKind::kSqs, SourceKind::kKinesis, SourceKind::kDynamoDb,
                                       SourceKind::kMsk, SourceKind::kSelfManagedKafka, SourceKind::kMq,
                                       SourceKind::kDocumentDb};
    m.kind = kinds[(data[0] >> 1) % 7];
    m.event_source_arn = "arn:aws:sqs:us-east-1:000000000000:q";
    m.topics = {"t"};
    if (is_kafka(m.kind))
      m.extras_json = with_default_consumer_group("{}", block_of(m.kind), m.uuid);
  }
  apply_common(m, r);
  if (!check_source_rules(m, r, is_create).is_ok()) return 0;
  if (is_create && is_kafka(m.kind)) m.extras_json = with_default_consumer_group(m.extras_json, block_of(m.kind), m.uuid);
  if (is_kafka(m.kind)) {
    (void)consumer_group_of(m.extras_json, block_of(m.kind));
    (void)extras_has(m.extras_json, block_of(m.kind));
  }
  check_encoded(m);
  return 0;
}
