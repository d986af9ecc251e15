#include "pollers/failure_destination.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "core/uuid.h"
#include "pollers/kinesis_event.h"

namespace esm::pollers {

void FailureDestination::deliver(FailureReport report, std::function<void(const Status&)> done) {
  if (report.destination.empty()) return done(Status::ok());
  if (report.destination.starts_with("arn:aws:sqs:")) return send_to_queue(std::move(report), std::move(done));
  const std::int64_t now = clock_.now_ms();
  DestinationEntry e;
  e.time_ms = now;
  e.arn = report.destination;
  e.mapping_uuid = report.mapping_uuid;
  if (report.destination.starts_with("arn:aws:s3:")) {
    e.key = s3_failure_key(report.mapping_uuid, report.partition_id, now, new_uuid());
    e.body = std::move(report.object);
  } else {
    e.key = new_uuid();
    e.body = std::move(report.record);
  }
  log_.append(std::move(e));
  done(Status::ok());
}

void FailureDestination::send_to_queue(FailureReport report, std::function<void(const Status&)> done) {
  auto shared_done = std::make_shared<std::function<void(const Status&)>>(std::move(done));
  const std::string uuid = report.mapping_uuid;
  db_.submit_relaxed(
      [this, report = std::move(report), shared_done](storage::Connection& c) -> storage::DbWorker::Done {
        sqs::Queue* q = queues_.find_by_arn(report.destination);
        if (!q) {
          spdlog::warn("mapping {}: OnFailure queue {} does not exist; failure record dropped", report.mapping_uuid,
                       report.destination);
          return [shared_done](const Status& commit) { (*shared_done)(commit); };
        }
        sqs::SendInput in;
        in.body = report.record;
        if (q->fifo) {
          in.group_id = report.mapping_uuid;
          in.dedup_id = new_uuid();
        }
        auto sent = queues_.send(c, *q, std::move(in), clock_.now_ms());
        if (!sent && sent.error().kind == sqs::ErrorKind::kInternal) {
          // The database failed the write: not delivered, and another try may work.
          spdlog::warn("mapping {}: failure record not sent: {}", report.mapping_uuid, sent.error().value);
          return [shared_done, why = internal_error(sent.error().value)](const Status&) { (*shared_done)(why); };
        }
        if (!sent)
          spdlog::warn("mapping {}: failure record rejected by {}; dropped: {}", report.mapping_uuid,
                       report.destination, sqs::kind_name(sent.error().kind));
        // The message counts only once its commit did.
        return [shared_done](const Status& commit) { (*shared_done)(commit); };
      },
      [shared_done, uuid](const Status& refused) {
        spdlog::warn("mapping {}: failure record not sent: {}", uuid, refused.message());
        (*shared_done)(refused);
      });
}

}  // namespace esm::pollers
