#include "poco_client.h"

#include <cctype>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace canaryctl::traffic::testing {

Result<kube::Response> PocoClient::Send(const kube::Request& request) {
  if (request.method == "PATCH" && before_patch) before_patch();
  try {
    Poco::URI uri;
    uri.setPath(request.path);
    for (const auto& [k, v] : request.query) uri.addQueryParameter(k, v);
    Poco::Net::HTTPClientSession session(host_, static_cast<Poco::UInt16>(port_));
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest req(request.method, uri.getPathAndQuery(),
                               Poco::Net::HTTPMessage::HTTP_1_1);
    req.set("Accept", "application/json");
    if (!request.body.empty()) {
      req.setContentType(request.content_type);
      req.setContentLength(static_cast<std::streamsize>(request.body.size()));
    }
    session.sendRequest(req) << request.body;
    Poco::Net::HTTPResponse resp;
    std::istream& is = session.receiveResponse(resp);
    kube::Response out;
    out.status = static_cast<int>(resp.getStatus());
    Poco::StreamCopier::copyToString(is, out.body);
    for (const auto& [name, value] : resp) {
      std::string lower;
      for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[lower] = value;
    }
    return out;
  } catch (const Poco::Exception& e) {
    return ClusterError(request.method + " " + request.path + ": " + e.displayText());
  }
}

}  // namespace canaryctl::traffic::testing
