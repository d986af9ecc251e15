#pragma once
// The KafkaConsumer (pollers/kafka_consumer.h) of production: librdkafka's high-level consumer
// (Debian's librdkafka 2.0.2), configured as kafka.md B.8a describes: explicit commits only,
// the group's committed offsets first, and the starting position resolved once per partition
// that has none (then committed, so that a restart does not move it). Its queue's wake-up
// callback tells the poller when to poll, so no thread waits on it.

#include <memory>

#include "pollers/kafka_consumer.h"

namespace esm::pollers {

std::unique_ptr<KafkaConsumer> make_rdkafka_consumer(const KafkaConsumerConfig& config);

}  // namespace esm::pollers
