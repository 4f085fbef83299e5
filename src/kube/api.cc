#include "kube/api.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

namespace canaryctl::kube {
namespace {

constexpr size_t kBodyExcerpt = 200;

Poco::JSON::Object::Ptr TryParseObject(const std::string& body) {
  try {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  } catch (const std::exception&) {  // Poco::BadCastException comes through extract as well
    return nullptr;
  }
}

}  // namespace

std::string ApiStatusMessage(const Response& response) {
  const std::string code = "(" + std::to_string(response.status) + ")";
  Poco::JSON::Object::Ptr status = TryParseObject(response.body);
  if (status && status->optValue<std::string>("kind", "") == "Status") {
    std::string message = status->optValue<std::string>("message", "");
    if (message.empty()) message = status->optValue<std::string>("reason", "");
    if (!message.empty()) return message + " " + code;
  }
  std::string excerpt = response.body.substr(0, kBodyExcerpt);
  if (response.body.size() > kBodyExcerpt) excerpt += "...";
  return "HTTP " + std::to_string(response.status) + (excerpt.empty() ? "" : ": " + excerpt);
}

Error ApiStatusError(const Request& request, const Response& response) {
  return ClusterError(request.method + " " + request.path + ": " + ApiStatusMessage(response));
}

Result<Poco::JSON::Object::Ptr> ParseJsonObject(const Request& request, const Response& response) {
  if (response.status < 200 || response.status > 299) return ApiStatusError(request, response);
  Poco::JSON::Object::Ptr object = TryParseObject(response.body);
  if (!object) {
    return ClusterError(request.method + " " + request.path + ": the " +
                        std::to_string(response.status) + " answer is not a JSON object");
  }
  return object;
}

Result<Poco::JSON::Object::Ptr> GetJson(Client& client, const std::string& path,
                                        const std::map<std::string, std::string>& query) {
  Request request;
  request.method = "GET";
  request.path = path;
  request.query = query;
  auto response = client.Send(request);
  if (!response.ok()) return response.error();
  return ParseJsonObject(request, response.value());
}

}  // namespace canaryctl::kube
