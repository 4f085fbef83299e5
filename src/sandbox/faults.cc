#include "sandbox/faults.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace sandbox {
namespace {

// Reads an integral JSON value; nullopt for anything else (strings, fractions, bools).
std::optional<int64_t> AsInt(const json::Var& v) {
  if (!json::IsInteger(v) || json::IsBool(v)) return std::nullopt;
  try {
    return v.convert<int64_t>();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string FaultInjector::ReasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

Result<json::ObjectPtr> FaultInjector::AddJson(std::string_view body) {
  auto parsed = json::ParseObject(body);
  if (!parsed.ok()) return parsed.error();
  return Add(parsed.value());
}

Result<json::ObjectPtr> FaultInjector::Add(const json::ObjectPtr& spec) {
  if (!spec) return ApiError::BadRequest("fault rule: the body must be a JSON object");
  static const std::set<std::string> kKeys = {"method", "path",    "userAgent", "nth",    "count",
                                              "status", "delayMs", "drop",      "message"};
  for (const auto& [key, value] : *spec) {
    if (!kKeys.count(key)) {
      return ApiError::BadRequest("fault rule: unknown field \"" + key +
                                  "\" (known: method, path, userAgent, nth, count, status, "
                                  "delayMs, drop, message)");
    }
  }
  Rule rule;
  auto string_field = [&](const char* key, std::string& out) -> std::optional<ApiError> {
    if (!spec->has(key) || json::IsNull(spec->get(key))) return std::nullopt;
    if (!json::IsString(spec->get(key))) {
      return ApiError::BadRequest(std::string("fault rule: \"") + key + "\" must be a string");
    }
    out = spec->getValue<std::string>(key);
    return std::nullopt;
  };
  auto int_field = [&](const char* key, int64_t min, int64_t max,
                       int64_t& out) -> std::optional<ApiError> {
    if (!spec->has(key) || json::IsNull(spec->get(key))) return std::nullopt;
    auto v = AsInt(spec->get(key));
    if (!v || *v < min || *v > max) {
      return ApiError::BadRequest(std::string("fault rule: \"") + key +
                                  "\" must be an integer from " + std::to_string(min) + " to " +
                                  std::to_string(max));
    }
    out = *v;
    return std::nullopt;
  };
  if (auto e = string_field("method", rule.method)) return *e;
  std::transform(rule.method.begin(), rule.method.end(), rule.method.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  if (auto e = string_field("path", rule.path)) return *e;
  if (!rule.path.empty()) {
    try {
      rule.path_re = std::regex(rule.path, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return ApiError::BadRequest("fault rule: \"path\" is not a valid ECMAScript regex: " +
                                  std::string(e.what()));
    }
  }
  if (auto e = string_field("userAgent", rule.user_agent)) return *e;
  if (!rule.user_agent.empty()) {
    try {
      rule.user_agent_re = std::regex(rule.user_agent, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return ApiError::BadRequest("fault rule: \"userAgent\" is not a valid ECMAScript regex: " +
                                  std::string(e.what()));
    }
  }
  int64_t nth = 1, count = 1, status = 0, delay = 0;
  if (auto e = int_field("nth", 1, INT64_MAX, nth)) return *e;
  if (auto e = int_field("count", 0, INT64_MAX, count)) return *e;
  if (auto e = int_field("status", 100, 599, status)) return *e;
  // A delay beyond a few minutes is a typo, and clients time out long before.
  if (auto e = int_field("delayMs", 0, 600000, delay)) return *e;
  if (spec->has("drop") && !json::IsNull(spec->get("drop"))) {
    if (!json::IsBool(spec->get("drop"))) {
      return ApiError::BadRequest("fault rule: \"drop\" must be a boolean");
    }
    rule.drop = spec->getValue<bool>("drop");
  }
  if (auto e = string_field("message", rule.message)) return *e;
  rule.nth = static_cast<uint64_t>(nth);
  rule.count = static_cast<uint64_t>(count);
  rule.status = static_cast<int>(status);
  rule.delay_ms = static_cast<int>(delay);
  // A rule that names no effect would do nothing; failing is what a fault rule is for.
  if (rule.status == 0 && rule.delay_ms == 0 && !rule.drop) rule.status = 500;

  std::lock_guard<std::mutex> lock(mu_);
  rule.id = next_id_++;
  rules_.push_back(rule);
  return ToJson(rules_.back());
}

json::ObjectPtr FaultInjector::ToJson(const Rule& rule) {
  json::ObjectPtr out = new json::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("id", rule.id);
  if (!rule.method.empty()) out->set("method", rule.method);
  if (!rule.path.empty()) out->set("path", rule.path);
  if (!rule.user_agent.empty()) out->set("userAgent", rule.user_agent);
  out->set("nth", rule.nth);
  out->set("count", rule.count);
  if (rule.status != 0) out->set("status", rule.status);
  out->set("delayMs", rule.delay_ms);
  out->set("drop", rule.drop);
  if (!rule.message.empty()) out->set("message", rule.message);
  out->set("matched", rule.matched);
  out->set("fired", rule.fired);
  return out;
}

json::ArrayPtr FaultInjector::List() const {
  json::ArrayPtr out = new json::Array;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Rule& rule : rules_) out->add(ToJson(rule));
  return out;
}

void FaultInjector::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

bool FaultInjector::Remove(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(rules_.begin(), rules_.end(), [&](const Rule& r) { return r.id == id; });
  if (it == rules_.end()) return false;
  rules_.erase(it);
  return true;
}

std::optional<FaultAction> FaultInjector::Match(const std::string& method, const std::string& path,
                                                const std::string& user_agent) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<FaultAction> action;
  for (Rule& rule : rules_) {
    if (!rule.method.empty() && rule.method != method) continue;
    if (!rule.path.empty() && !std::regex_match(path, rule.path_re)) continue;
    // A search, not a whole match: "^canaryctl/" or "helm" are what a test means.
    if (!rule.user_agent.empty() && !std::regex_search(user_agent, rule.user_agent_re)) continue;
    const uint64_t n = ++rule.matched;
    const bool in_window = n >= rule.nth && (rule.count == 0 || n - rule.nth < rule.count);
    if (!in_window || action) continue;
    ++rule.fired;
    action = FaultAction{rule.id, rule.delay_ms, rule.status, rule.drop, rule.message};
  }
  return action;
}

}  // namespace sandbox
