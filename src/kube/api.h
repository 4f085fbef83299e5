// Small helpers over Client::Send for the common cases: read a JSON object, and turn a non-2xx
// answer into an Error whose message is the API's own Status message.
#pragma once

#include <map>
#include <string>

#include <Poco/JSON/Object.h>

#include "kube/client.h"

namespace canaryctl::kube {

// The message of a failed response: the Status body's message with the code,
// `virtualservices.networking.istio.io "demoapp" not found (404)`; without a Status body,
// "HTTP 502: <the start of the body>".
std::string ApiStatusMessage(const Response& response);

// A kCluster Error for a failed response: "<METHOD> <path>: " + ApiStatusMessage(response).
Error ApiStatusError(const Request& request, const Response& response);

// The body of a 2xx response as a JSON object; a kCluster Error otherwise (or when the body is
// not a JSON object).
Result<Poco::JSON::Object::Ptr> ParseJsonObject(const Request& request, const Response& response);

// GET path (with query) and return the object: a 404 is an Error like any other failure.
Result<Poco::JSON::Object::Ptr> GetJson(Client& client, const std::string& path,
                                        const std::map<std::string, std::string>& query = {});

}  // namespace canaryctl::kube
