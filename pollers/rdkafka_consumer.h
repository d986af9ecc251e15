#pragma once
// The KafkaConsumer (pollers/kafka_consumer.h) of production: librdkafka's high-level consumer
// (Debian's librdkafka 2.0.2), configured as kafka.md B.8a describes: explicit commits only,
// the group's committed offsets first, and the starting position resolved once per partition
// that has none (then committed, so that a restart does not move it). Its queue's wake-up
// callback tells the poller when to poll, so no thread waits on it.

#include <chrono>
#include <memory>

#include "pollers/kafka_consumer.h"

namespace esm::pollers {

std::unique_ptr<KafkaConsumer> make_rdkafka_consumer(const KafkaConsumerConfig& config);

// A consumer's librdkafka handles are destroyed on a thread of their own, never on the poller's
// I/O thread (rd_kafka_destroy may wait for a broker, and esmd's own broker needs those
// threads to answer). At shutdown: waits up to `limit` for the destroys still running; false
// when some did not finish.
bool drain_rdkafka_destroys(std::chrono::milliseconds limit);

}  // namespace esm::pollers
