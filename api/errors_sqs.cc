// The SQS wire-error table and AWS's wording of the queue service's errors.
#include "api/errors.h"

#include <optional>

namespace esm::api {

using sqs::Error;
using sqs::ErrorKind;

SqsWireShape sqs_wire_shape(SqsCode code) {
  switch (code) {
    case SqsCode::kNonExistentQueue: return {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", 400, true};
    case SqsCode::kQueueAlreadyExists: return {"QueueAlreadyExists", "QueueNameExists", 400, true};
    case SqsCode::kInvalidParameterValue: return {"InvalidParameterValue", "InvalidParameterValueException", 400, true};
    case SqsCode::kMissingParameter: return {"MissingParameter", "MissingRequiredParameterException", 400, true};
    case SqsCode::kInvalidAttributeName: return {"InvalidAttributeName", "InvalidAttributeName", 400, true};
    case SqsCode::kInvalidAttributeValue: return {"InvalidAttributeValue", "InvalidAttributeValue", 400, true};
    case SqsCode::kReceiptHandleIsInvalid: return {"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400, true};
    case SqsCode::kMessageNotInflight:
      return {"AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight", 400, true};
    // The query-era reference gave 403; today's API reference and the JSON protocol say 400.
    case SqsCode::kPurgeQueueInProgress:
      return {"AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress", 400, true};
    case SqsCode::kInvalidMessageContents: return {"InvalidMessageContents", "InvalidMessageContents", 400, true};
    case SqsCode::kTooManyEntriesInBatchRequest:
      return {"AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "TooManyEntriesInBatchRequest", 400, true};
    case SqsCode::kEmptyBatchRequest:
      return {"AWS.SimpleQueueService.EmptyBatchRequest", "EmptyBatchRequest", 400, true};
    case SqsCode::kBatchEntryIdsNotDistinct:
      return {"AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "BatchEntryIdsNotDistinct", 400, true};
    case SqsCode::kInvalidBatchEntryId:
      return {"AWS.SimpleQueueService.InvalidBatchEntryId", "InvalidBatchEntryId", 400, true};
    case SqsCode::kBatchRequestTooLong:
      return {"AWS.SimpleQueueService.BatchRequestTooLong", "BatchRequestTooLong", 400, true};
    case SqsCode::kInvalidAction: return {"InvalidAction", "InvalidAction", 400, true};
    case SqsCode::kRequestEntityTooLarge: return {"RequestEntityTooLarge", "RequestEntityTooLarge", 413, true};
    case SqsCode::kInternalError: break;
  }
  return {"InternalError", "InternalError", 500, false};
}

SqsFault sqs_missing_parameter(std::string_view name) {
  return {SqsCode::kMissingParameter, "The request must contain the parameter " + std::string(name) + "."};
}

namespace {

std::string invalid_value_of(const std::string& value, const std::string& param, const std::string& reason) {
  return "Value " + value + " for parameter " + param + " is invalid. Reason: " + reason;
}

// Errors about a queue and its attributes.
std::optional<SqsFault> queue_fault(const Error& e) {
  const std::string name = sqs_printable(e.name);
  switch (e.kind) {
    case ErrorKind::kNonExistentQueue: return SqsFault{SqsCode::kNonExistentQueue, "The specified queue does not exist."};
    case ErrorKind::kQueueAlreadyExists:
      return SqsFault{SqsCode::kQueueAlreadyExists,
                      "A queue already exists with the same name and a different value for attribute " + name};
    case ErrorKind::kInvalidQueueName:
      return SqsFault{SqsCode::kInvalidParameterValue,
                      e.fifo ? "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                               "underscores, must end with .fifo suffix and be 1 to 80 in length."
                             : "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"};
    case ErrorKind::kInvalidAttributeName: return SqsFault{SqsCode::kInvalidAttributeName, "Unknown Attribute " + name + "."};
    case ErrorKind::kInvalidAttributeValue:
      return SqsFault{SqsCode::kInvalidAttributeValue, "Invalid value for the parameter " + name + "."};
    case ErrorKind::kPurgeQueueInProgress:
      return SqsFault{SqsCode::kPurgeQueueInProgress,
                      "Only one PurgeQueue operation on " + name + " is allowed every 60 seconds."};
    case ErrorKind::kInvalidTag:
      return SqsFault{SqsCode::kInvalidParameterValue, "Tag key or value contains invalid characters."};
    case ErrorKind::kTooManyTags:
      return SqsFault{SqsCode::kInvalidParameterValue, "Too many tags added for queue " + name + "."};
    case ErrorKind::kDeadLetterTargetMissing:
      return SqsFault{SqsCode::kInvalidParameterValue,
                      invalid_value_of(sqs_printable(e.value), "RedrivePolicy", "Dead letter target does not exist.")};
    case ErrorKind::kDeadLetterTargetWrongType:
      return SqsFault{SqsCode::kInvalidParameterValue,
                      invalid_value_of(sqs_printable(e.value), "RedrivePolicy",
                                       "Dead-letter target must be the same type of queue (FIFO or standard) as the "
                                       "source.")};
    default: return std::nullopt;
  }
}

// Errors about a message's attributes.
std::optional<SqsFault> attribute_fault(const Error& e) {
  const std::string name = sqs_printable(e.name);
  switch (e.kind) {
    case ErrorKind::kTooManyMessageAttributes:
      return SqsFault{SqsCode::kInvalidParameterValue, "Number of message attributes [" + std::to_string(e.number) +
                                                           "] exceeds the allowed maximum [" + std::to_string(e.max) +
                                                           "]."};
    case ErrorKind::kInvalidMessageAttributeName:
      return SqsFault{SqsCode::kInvalidParameterValue,
                      "Message (user) attribute name '" + name +
                          "' is invalid. Names may hold alphanumerics, '_', '-' and '.', at most 256, and must not "
                          "start with AWS. or Amazon."};
    case ErrorKind::kInvalidMessageAttributeType:
      return SqsFault{SqsCode::kInvalidParameterValue,
                      "The type of message (user) attribute '" + name +
                          "' is invalid. You must use only the following supported type prefixes: Binary, Number, "
                          "String."};
    case ErrorKind::kMessageAttributeValueMissing:
      return SqsFault{SqsCode::kInvalidParameterValue,
                      "Message (user) attribute '" + name +
                          "' must contain a non-empty message attribute value for message attribute type '" + e.value +
                          "'."};
    case ErrorKind::kMessageAttributeNotNumber:
      return SqsFault{SqsCode::kInvalidParameterValue,
                      "Can't cast the value of message (user) attribute '" + name + "' to a number."};
    case ErrorKind::kMessageAttributeInvalidText:
      return SqsFault{SqsCode::kInvalidParameterValue, "Message (user) attribute '" + name + "' contains invalid characters."};
    default: return std::nullopt;
  }
}

// Errors about a message, its parameters and its receipt handle.
SqsFault message_fault(const Error& e) {
  const std::string name = sqs_printable(e.name);
  switch (e.kind) {
    case ErrorKind::kMissingParameter: return sqs_missing_parameter(name);
    case ErrorKind::kMessageTooLong:
      return {SqsCode::kInvalidParameterValue, "One or more parameters are invalid. Reason: Message must be shorter than " +
                                                   std::to_string(e.max) + " bytes."};
    case ErrorKind::kInvalidMessageContents:
      return {SqsCode::kInvalidMessageContents,
              "Invalid characters found. Valid characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | "
              "#x10000 to #x10FFFF"};
    case ErrorKind::kInvalidTraceHeader:
      return {SqsCode::kInvalidParameterValue, "Message system attribute 'AWSTraceHeader' is invalid."};
    case ErrorKind::kParameterNotForQueueType:
      if (e.name == "DelaySeconds")
        return {SqsCode::kInvalidParameterValue,
                invalid_value_of(e.value, name, "The request include parameter that is not valid for this queue type.")};
      return {SqsCode::kInvalidParameterValue,
              invalid_value_of(sqs_printable(e.value), name,
                               "The request includes a parameter that is not valid for this queue type.")};
    case ErrorKind::kMissingDeduplicationId:
      return {SqsCode::kInvalidParameterValue,
              "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
              "explicitly"};
    case ErrorKind::kInvalidGroupOrDeduplicationId:
      return {SqsCode::kInvalidParameterValue,
              invalid_value_of(sqs_printable(e.value), name,
                               name + " can only include alphanumeric and punctuation characters. 1 to 128 in length.")};
    case ErrorKind::kOutOfRange:
      if (e.name == "DelaySeconds")
        return {SqsCode::kInvalidParameterValue,
                invalid_value_of(std::to_string(e.number), name,
                                 "DelaySeconds must be >= " + std::to_string(e.min) + " and <= " + std::to_string(e.max) + ".")};
      return {SqsCode::kInvalidParameterValue,
              invalid_value_of(std::to_string(e.number), name,
                               "Must be between " + std::to_string(e.min) + " and " + std::to_string(e.max) +
                                   ", if provided.")};
    case ErrorKind::kInvalidReceiptHandle:
      return {SqsCode::kReceiptHandleIsInvalid,
              "The input receipt handle \"" + sqs_printable(e.value) + "\" is not a valid receipt handle."};
    case ErrorKind::kMessageNotInflight:
      return {SqsCode::kMessageNotInflight,
              "Message does not exist or is not available for visibility timeout change."};
    default: break;
  }
  return {SqsCode::kInternalError,
          e.value.empty() ? "The database is unavailable: a commit failed and esmd is recovering." : e.value};
}

}  // namespace

SqsFault sqs_fault(const Error& e) {
  if (auto f = queue_fault(e)) return *f;
  if (auto f = attribute_fault(e)) return *f;
  return message_fault(e);
}

SqsFault sqs_fault(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidParameter:
    case Code::kValidation: return {SqsCode::kInvalidParameterValue, s.message()};
    case Code::kNotFound: return {SqsCode::kNonExistentQueue, s.message()};
    case Code::kTooLarge: return {SqsCode::kRequestEntityTooLarge, s.message()};
    case Code::kUnknownOperation: return {SqsCode::kInvalidAction, s.message()};
    default: return {SqsCode::kInternalError, s.message()};
  }
}

}  // namespace esm::api
