#pragma once
// The queue service's errors: a kind plus the fields the front-end needs to word it. No prose
// here: api/errors_sqs.cc owns the wire codes and AWS's messages.

#include <string>

#include "core/status.h"

namespace esm::sqs {

enum class ErrorKind {
  kNonExistentQueue,
  kQueueAlreadyExists,           // name: the attribute whose value differs
  kInvalidQueueName,             // fifo: the name was meant for a FIFO queue (FifoQueue=true)
  kInvalidAttributeName,         // name
  kInvalidAttributeValue,        // name
  kInvalidTag,                   // a tag key or value has characters SQS refuses, or an empty key
  kTooManyTags,                  // name: the queue; max: the limit
  kDeadLetterTargetMissing,      // value: the RedrivePolicy
  kDeadLetterTargetWrongType,    // value: the RedrivePolicy
  kMissingParameter,             // name
  kTooManyMessageAttributes,     // number: how many; max: the limit
  kInvalidMessageAttributeName,  // name
  kInvalidMessageAttributeType,  // name
  kMessageAttributeValueMissing, // name; value: the base type (String, Number, Binary)
  kMessageAttributeNotNumber,    // name
  kMessageAttributeInvalidText,  // name
  kMessageTooLong,               // max: the queue's MaximumMessageSize
  kInvalidMessageContents,       // the body has characters outside SQS's set
  kInvalidTraceHeader,
  kParameterNotForQueueType,     // name: the parameter; value: as given
  kMissingDeduplicationId,
  kInvalidGroupOrDeduplicationId,  // name: the parameter; value: as given
  kOutOfRange,                   // name: the parameter; number: as given; min, max: the range
  kInvalidReceiptHandle,         // value: the handle
  kMessageNotInflight,
  kPurgeQueueInProgress,         // name: the queue
  kInternal,                     // the database failed; value: the storage layer's reason
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string name;
  std::string value;
  long long number = 0;
  long long min = 0;
  long long max = 0;
  bool fifo = false;

  static Error internal(const Status& s) { return Error{ErrorKind::kInternal, {}, s.message()}; }
};

// The kind's name, for logs.
const char* kind_name(ErrorKind k);

}  // namespace esm::sqs
