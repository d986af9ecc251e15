#include "pollers/classify.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/invocation_log.h"

namespace esm::pollers {
namespace {

constexpr std::size_t kDetailBodyChars = 300;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const std::string* find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return &v;
  return nullptr;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The RIE's error body: a JSON object with both errorMessage and errorType (§5.2). The
// substring test first keeps large success payloads from being parsed twice.
bool is_error_shaped(std::string_view body) {
  std::string_view t = trim(body);
  if (t.empty() || t.front() != '{') return false;
  if (t.find("\"errorMessage\"") == std::string_view::npos || t.find("\"errorType\"") == std::string_view::npos)
    return false;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(t.data(), t.size());
  return !d.HasParseError() && d.IsObject() && d.HasMember("errorMessage") && d.HasMember("errorType");
}

bool is_json_object(std::string_view body) {
  std::string_view t = trim(body);
  if (t.empty() || t.front() != '{') return false;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(t.data(), t.size());
  return !d.HasParseError() && d.IsObject();
}

std::string body_excerpt(std::string_view body) {
  std::string_view t = trim(body);
  std::string out(t.substr(0, kDetailBodyChars));
  if (t.size() > kDetailBodyChars) out += "...";
  return out;
}

InvokeOutcome function_error(std::string function_error, std::string payload, std::string detail) {
  InvokeOutcome o;
  o.status = InvokeStatus::kFunctionError;
  o.http_status = 200;
  o.function_error = std::move(function_error);
  o.payload = std::move(payload);
  o.detail = std::move(detail);
  return o;
}

std::string seconds(int ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", ms / 1000.0);
  return buf;
}

}  // namespace

InvokeOutcome invoke_error(int http_status, std::string detail) {
  InvokeOutcome o;
  o.status = InvokeStatus::kInvokeError;
  o.http_status = http_status;
  o.detail = std::move(detail);
  return o;
}

std::string error_payload(std::string_view message, std::string_view type) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("errorMessage");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.Key("errorType");
  w.String(type.data(), static_cast<rapidjson::SizeType>(type.size()));
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string timeout_message(int timeout_ms) { return "Task timed out after " + seconds(timeout_ms) + " seconds"; }

InvokeOutcome classify_http(int status, const HttpHeaders& headers, std::string body) {
  InvokeOutcome o;
  if (status >= 200 && status < 300) {
    const std::string* fe = find_header(headers, "x-amz-function-error");
    if (fe && !trim(*fe).empty()) {
      o = function_error(std::string(trim(*fe)), std::move(body), "X-Amz-Function-Error: " + std::string(trim(*fe)));
    } else if (is_error_shaped(body)) {
      o = function_error("Unhandled", std::move(body), "error body without X-Amz-Function-Error (RIE)");
    } else if (body.starts_with("Task timed out after")) {
      std::string detail = "timed out (RIE): " + body_excerpt(body);
      o = function_error("Unhandled", std::move(body), std::move(detail));
    } else {
      o.status = InvokeStatus::kSuccess;
      o.payload = std::move(body);
    }
    if (o.status == InvokeStatus::kSuccess) o.http_status = status;
  } else if (status == 502) {
    // The RIE answers 502 when the runtime exits or crashes during the invoke (§5.2): the
    // function ran and failed, as a runtime exit is on Lambda.
    std::string payload = is_json_object(body) ? std::move(body)
                                               : error_payload("Runtime exited without providing a reason",
                                                               "Runtime.ExitError");
    o = function_error("Unhandled", std::move(payload), "HTTP 502 from the target: the runtime exited");
  } else {
    std::string detail = "HTTP " + std::to_string(status) + " from the target";
    if (const std::string* t = find_header(headers, "x-amzn-errortype"); t && !t->empty()) detail += " (" + *t + ")";
    if (std::string ex = body_excerpt(body); !ex.empty()) detail += ": " + ex;
    o = invoke_error(status, std::move(detail));
    o.payload = std::move(body);
  }
  if (const std::string* v = find_header(headers, "x-amz-executed-version"); v && !v->empty()) o.executed_version = *v;
  if (const std::string* id = find_header(headers, "x-amzn-requestid"); id && !id->empty()) o.request_id = *id;
  return o;
}

InvokeOutcome classify_http_failure(const HttpFailure& f, int timeout_ms) {
  switch (f.stage) {
    case HttpStage::kConnect:
      return invoke_error(0, "cannot connect to the target: " + (f.timed_out ? "timed out" : f.message));
    case HttpStage::kSend:
      return invoke_error(0, "cannot send the request to the target: " + (f.timed_out ? "timed out" : f.message));
    case HttpStage::kReceive:
      break;
  }
  if (f.timed_out) {
    return timed_out(timeout_ms, "no response within " + std::to_string(timeout_ms + kTimeoutGraceMs) +
                                     " ms (the function timeout of " + std::to_string(timeout_ms) + " ms + " +
                                     std::to_string(kTimeoutGraceMs / 1000) + " s of grace)");
  }
  if (f.body_too_large) {
    return function_error("Unhandled",
                          error_payload("Response payload size exceeded maximum allowed payload size (" +
                                            std::to_string(kMaxResponseBytes) + " bytes).",
                                        "Function.ResponseSizeTooLarge"),
                          "the response is larger than " + std::to_string(kMaxResponseBytes) + " bytes");
  }
  if (f.malformed) return invoke_error(0, "malformed HTTP response from the target: " + f.message);
  return function_error("Unhandled",
                        error_payload("Runtime exited without providing a reason", "Runtime.ExitError"),
                        "the connection was closed before a response: " + f.message);
}

InvokeOutcome timed_out(int timeout_ms, std::string detail) {
  return function_error("Unhandled", error_payload(timeout_message(timeout_ms), "Sandbox.Timedout"), std::move(detail));
}

InvokeOutcome apply_function_timeout(InvokeOutcome o, std::int64_t elapsed_ms, int timeout_ms) {
  if (o.status == InvokeStatus::kInvokeError || elapsed_ms < timeout_ms) return o;
  InvokeOutcome t = timed_out(timeout_ms, "answered after " + std::to_string(elapsed_ms) +
                                              " ms, past the function timeout of " + std::to_string(timeout_ms) +
                                              " ms (it answered " + std::string(outcome_name(o.status)) + ")");
  t.executed_version = std::move(o.executed_version);
  t.request_id = std::move(o.request_id);
  return t;
}

InvokeOutcome classify_exec(const ExecResult& r, int timeout_ms) {
  if (!r.spawned) return invoke_error(0, "cannot start the command: " + r.spawn_error);
  if (r.timed_out) {
    return timed_out(timeout_ms, "killed after the function timeout of " + std::to_string(timeout_ms) + " ms");
  }
  if (r.stdout_too_large) {
    return function_error("Unhandled",
                          error_payload("Response payload size exceeded maximum allowed payload size (" +
                                            std::to_string(kMaxResponseBytes) + " bytes).",
                                        "Function.ResponseSizeTooLarge"),
                          "stdout is larger than " + std::to_string(kMaxResponseBytes) + " bytes");
  }
  if (r.signal == 0 && r.exit_code == 0) {
    InvokeOutcome o;
    o.status = InvokeStatus::kSuccess;
    o.http_status = 200;
    o.payload = r.out.empty() ? "null" : r.out;
    return o;
  }
  const std::string why = r.signal != 0 ? "signal " + std::to_string(r.signal) : "exit status " + std::to_string(r.exit_code);
  if (!r.out.empty()) return function_error("Unhandled", r.out, "the command failed with " + why);
  std::string_view err = trim(r.err);
  std::string message = err.empty() ? "Runtime exited with error: " + why : std::string(err);
  return function_error("Unhandled", error_payload(message, "Runtime.ExitError"), "the command failed with " + why);
}

}  // namespace esm::pollers
