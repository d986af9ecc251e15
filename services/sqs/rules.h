#pragma once
// The queue service's rules, as pure functions: which queue attributes and values SQS accepts
// and what they set, which messages it accepts (size, characters, message attributes, FIFO
// parameters), and the digests it answers with.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"
#include "services/sqs/errors.h"
#include "services/sqs/queue.h"

namespace esm::sqs {

// The total size SendMessageBatch may carry, bodies and attributes together, and the largest
// MaximumMessageSize (AWS raised both to 1 MiB in 2025).
inline constexpr std::size_t kMaxBatchPayload = 1048576;
inline constexpr std::int64_t kDedupWindowMs = 5 * 60 * 1000;
inline constexpr int kMaxVisibilityTimeoutS = 43200;
inline constexpr std::size_t kMaxTags = 50;
// SQS takes one PurgeQueue a queue a minute, the time its deletion may take.
inline constexpr std::int64_t kPurgeIntervalMs = 60 * 1000;

// XML 1.0 characters, the set SQS accepts in bodies and attribute values.
bool valid_text(std::string_view s);
// Letters, digits, '-' and '_', 1 to 80 characters, with ".fifo" at the end of a FIFO queue's.
bool valid_queue_name(const std::string& name, bool fifo);

// One attribute of CreateQueue or SetQueueAttributes, on its own.
Expected<void, Error> check_attribute(const std::string& name, const std::string& value);
// Sets the queue's typed fields from its attribute map (defaults for what is not set).
void apply_attributes(Queue& q);
// Every settable attribute with its value in effect, defaults included.
std::map<std::string, std::string> effective_attributes(const Queue& q);
// The dead-letter target a RedrivePolicy names; empty when it names none.
std::string dead_letter_arn_of(const std::string& policy);
// Attributes that may be asked for by name although they have no value.
bool known_unset_attribute(const std::string& name);
// Attributes only FIFO queues have.
bool fifo_only_attribute(const std::string& name);

Expected<void, Error> check_tags(const std::map<std::string, std::string>& tags);

// A message as SendMessage takes it, against this queue's rules.
Expected<void, Error> check_message(const Queue& q, const SendInput& in);
// The size SQS counts for a message: body plus each attribute's name, type and value.
std::size_t message_size(const SendInput& in);
// AWS's MD5OfMessageAttributes over attributes sorted by name.
std::string md5_of_attributes(const std::vector<MessageAttribute>& attributes);
// Sets a received message's md5_body and md5_attributes. A receive leaves them empty so that
// its reader hashes on its own thread rather than on the DbWorker's.
void fill_digests(Message& m);

// The key a FIFO message is deduplicated under (DeduplicationScope queue or messageGroup).
std::string dedup_key_of(const Queue& q, const Message& m);
std::string dedup_key_of(const Queue& q, const std::string& group_id, const std::string& dedup_id);

// A 64-bit digest of a message id: memory keeps it instead of the id, to check receipt handles.
std::uint64_t message_id_hash(std::string_view message_id);

// The message attributes column: a JSON array of [name, type, value, binary] entries.
std::string encode_attributes(const std::vector<MessageAttribute>& attributes);
// Empty when the column is not such an array.
std::optional<std::vector<MessageAttribute>> decode_attributes(const std::string& column);

}  // namespace esm::sqs
