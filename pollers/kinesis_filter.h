#pragma once
// The view of a Kinesis record that FilterCriteria patterns see (filtering.md §6, §9.8), for the
// Kinesis poller: it filters each record on its own before batching, and skips (checkpoints) the
// ones that match no filter.

#include <string>

#include "pollers/filter.h"
#include "services/kinesis/stream.h"

namespace esm::pollers {

// Whether the record passes the filter. The pattern sees the record's outer fields (eventSource,
// eventVersion, eventID, eventName, awsRegion, eventSourceARN) merged with its `kinesis` fields
// (kinesisSchemaVersion, partitionKey, sequenceNumber, approximateArrivalTimestamp, data) at the
// top level, so patterns written as the Lambda docs show ({"data": ...}, {"partitionKey": ...})
// and as the invocation event reads both work. `data` is the record's bytes parsed as JSON when
// they are JSON text, else the plain string, and absent when they are not UTF-8.
bool kinesis_record_passes(const EventFilter& filter, const kinesis::StreamRecord& record,
                           const std::string& shard_id, const std::string& stream_arn, const std::string& region);

}  // namespace esm::pollers
