#include "pollers/kinesis_filter.h"

#include <rapidjson/document.h>

namespace esm::pollers {

bool kinesis_record_passes(const EventFilter& filter, const kinesis::StreamRecord& record,
                           const std::string& shard_id, const std::string& stream_arn, const std::string& region) {
  if (filter.empty()) return true;
  rapidjson::Document view(rapidjson::kObjectType);
  auto& a = view.GetAllocator();
  auto add = [&](const char* key, const std::string& value) {
    view.AddMember(rapidjson::StringRef(key), rapidjson::Value(value.c_str(), static_cast<rapidjson::SizeType>(value.size()), a), a);
  };
  add("kinesisSchemaVersion", "1.0");
  add("partitionKey", record.partition_key);
  add("sequenceNumber", record.sequence_number);
  set_payload_view(view, "data", record.data, a);
  view.AddMember("approximateArrivalTimestamp", static_cast<double>(record.arrival_ms) / 1000.0, a);
  add("eventSource", "aws:kinesis");
  add("eventVersion", "1.0");
  add("eventID", shard_id + ":" + record.sequence_number);
  add("eventName", "aws:kinesis:record");
  add("awsRegion", region);
  add("eventSourceARN", stream_arn);
  return filter.matches(view);
}

}  // namespace esm::pollers
