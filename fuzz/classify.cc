// The function-response classifier (pollers/classify.h) on what a function target answers:
// the bytes parsed as the HTTP invoker parses a response (Beast's response_parser, 64 KiB of
// header, at most kMaxResponseBytes of body, a larger Content-Length refused first), then
// classified, and the outcome judged as the SQS and stream pollers judge a batch with
// ReportBatchItemFailures (the batchItemFailures body). The same bytes are also an exec
// target's stdout and stderr (classify_exec).
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pollers/classify.h"
#include "pollers/sqs_event.h"
#include "pollers/stream_policy.h"

namespace beast = boost::beast;
namespace http = beast::http;
using namespace esm;
using namespace esm::pollers;

namespace {

void judge(const InvokeOutcome& outcome) {
  static const std::set<std::string> ids = {"059f36b4-87a3-44ab-83d2-661975830a7d", "2e1424d4-f796-459a-8184-9c92662be6da", "m-1"};
  (void)judge_batch(outcome, true, ids);
  (void)judge_batch(outcome, false, ids);
  static const std::vector<std::string_view> seqs = {"49590338271490256608559692538361571095921575989136588801",
                                                "49590338271490256608559692538361571095921575989136588802",
                                                "49590338271490256608559692538361571095921575989136588803"};
  const Judgement j = judge_stream_batch(outcome, true, seqs, 1, 3);
  if (j.verdict == Verdict::kPartial && (j.failed_from < 1 || j.failed_from >= 3)) std::abort();
  (void)judge_stream_batch(outcome, true, seqs, 0, 3);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  ExecResult exec;
  exec.exit_code = size % 3 == 0 ? 0 : 1;
  exec.out = std::string(in);
  exec.err = std::string(in.substr(0, 256));
  judge(classify_exec(exec, 3000));

  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  parser.header_limit(64 * 1024);
  beast::error_code ec;
  std::size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
  if (ec == http::error::need_more) ec = {};
  HttpFailure failure;
  failure.stage = HttpStage::kReceive;
  if (!ec && parser.is_header_done()) {
    if (auto len = parser.content_length(); len && *len > kMaxResponseBytes) {
      failure.body_too_large = true;
      judge(classify_http_failure(failure, 8000));
      return 0;
    }
    parser.eager(true);
    if (!parser.is_done()) used += parser.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
    if (ec == http::error::need_more) ec = {};
  }
  // The function closed the connection (Beast's read reports end_of_stream when nothing came).
  if (!ec && !parser.is_done()) {
    if (parser.got_some()) parser.put_eof(ec);
    else ec = http::error::end_of_stream;
  }
  if (ec || !parser.is_done()) {
    failure.malformed = ec && ec != http::error::end_of_stream && ec != http::error::partial_message;
    failure.body_too_large = ec == http::error::body_limit;
    failure.message = ec.message();
    judge(classify_http_failure(failure, 8000));
    return 0;
  }
  http::response<http::string_body> res = parser.release();
  HttpHeaders headers;
  for (const auto& f : res) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  judge(classify_http(static_cast<int>(res.result_int()), headers, std::move(res.body())));
  return 0;
}
