// An HTTP exchange as the sandbox's workload and gateway tests read it: status, body, headers,
// or the transport error instead.
#pragma once

#include <map>
#include <string>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

namespace sandbox {

struct Reply {
  int status = 0;  // 0: no answer (error says why)
  std::string body;
  std::map<std::string, std::string> headers;
  std::string error;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Sends request (with body, when not empty) on session and reads the whole answer.
inline Reply Read(Poco::Net::HTTPClientSession& session, Poco::Net::HTTPRequest& request,
                  const std::string& body = "") {
  Reply reply;
  try {
    if (!body.empty()) request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(in, reply.body);
    reply.status = response.getStatus();
    for (const auto& [k, v] : response) reply.headers[k] = v;
  } catch (const Poco::Exception& e) {
    reply.error = e.displayText();
  }
  return reply;
}

}  // namespace sandbox
