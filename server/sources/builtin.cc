#include "server/sources/builtin.h"

#include "server/sources/kafka_source.h"
#include "server/sources/kinesis_source.h"
#include "server/sources/sqs_source.h"

namespace esm::server {

// The registration: one line per source. Kinesis comes before SQS because a request goes to
// the first source that claims it, and SQS also claims any request with an Action parameter.
BuiltinSources make_builtin_sources(const SourceContext& context) {
  BuiltinSources builtin;
  auto sqs = std::make_unique<SqsSource>(context);
  builtin.failure_queues = &sqs->queues();
  builtin.sources.push_back(std::make_unique<KinesisSource>(context));
  builtin.sources.push_back(std::move(sqs));
  builtin.sources.push_back(std::make_unique<KafkaSource>(context));
  return builtin;
}

}  // namespace esm::server
