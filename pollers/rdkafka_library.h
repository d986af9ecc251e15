#pragma once
// librdkafka, loaded the first time a Kafka mapping opens its consumer (dlopen of Debian's
// librdkafka.so.1) rather than linked: an esmd that never reads a Kafka cluster does not load
// it, nor what it brings (OpenSSL, SASL), which cost about 2 MiB of idle RSS and a few
// milliseconds of start-up.

#include <librdkafka/rdkafka.h>

#include <optional>
#include <string>

namespace esm::pollers {

// The functions esmd calls (pollers/rdkafka_consumer.cc), each resolved from the library.
#define ESMD_RDKAFKA_FUNCTIONS(X) \
  X(rd_kafka_assign) \
  X(rd_kafka_commit) \
  X(rd_kafka_committed) \
  X(rd_kafka_conf_destroy) \
  X(rd_kafka_conf_new) \
  X(rd_kafka_conf_set) \
  X(rd_kafka_conf_set_dr_msg_cb) \
  X(rd_kafka_conf_set_error_cb) \
  X(rd_kafka_conf_set_log_cb) \
  X(rd_kafka_conf_set_offset_commit_cb) \
  X(rd_kafka_conf_set_opaque) \
  X(rd_kafka_conf_set_rebalance_cb) \
  X(rd_kafka_consumer_close_queue) \
  X(rd_kafka_consumer_closed) \
  X(rd_kafka_consumer_poll) \
  X(rd_kafka_destroy) \
  X(rd_kafka_destroy_flags) \
  X(rd_kafka_err2str) \
  X(rd_kafka_error_destroy) \
  X(rd_kafka_error_string) \
  X(rd_kafka_header_get_all) \
  X(rd_kafka_message_destroy) \
  X(rd_kafka_message_errstr) \
  X(rd_kafka_message_headers) \
  X(rd_kafka_message_timestamp) \
  X(rd_kafka_new) \
  X(rd_kafka_offsets_for_times) \
  X(rd_kafka_poll) \
  X(rd_kafka_poll_set_consumer) \
  X(rd_kafka_producev) \
  X(rd_kafka_purge) \
  X(rd_kafka_query_watermark_offsets) \
  X(rd_kafka_queue_cb_event_enable) \
  X(rd_kafka_queue_destroy) \
  X(rd_kafka_queue_get_consumer) \
  X(rd_kafka_queue_get_main) \
  X(rd_kafka_queue_new) \
  X(rd_kafka_queue_poll_callback) \
  X(rd_kafka_subscribe) \
  X(rd_kafka_topic_name) \
  X(rd_kafka_topic_partition_list_add) \
  X(rd_kafka_topic_partition_list_copy) \
  X(rd_kafka_topic_partition_list_destroy) \
  X(rd_kafka_topic_partition_list_new)

struct RdKafkaLibrary {
#define ESMD_RDKAFKA_POINTER(name) decltype(&::name) name = nullptr;
  ESMD_RDKAFKA_FUNCTIONS(ESMD_RDKAFKA_POINTER)
#undef ESMD_RDKAFKA_POINTER
};

// Loads the library once (thread-safe); later calls only look. nullopt once it is loaded, else
// why it cannot be.
std::optional<std::string> load_rdkafka();
// The loaded library: only after load_rdkafka() answered nullopt.
const RdKafkaLibrary& rdkafka();

}  // namespace esm::pollers
