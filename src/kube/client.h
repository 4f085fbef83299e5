// The Kubernetes API as canaryctl's modules see it: one request in, one response out. The
// implementation (RestClient) adds the kubeconfig's server, auth and TLS, and retries 429, 5xx
// and connection errors with backoff and jitter within a deadline; callers never retry those.
// A 409 is returned as a response: the caller re-reads and re-decides.
#pragma once

#include <map>
#include <string>

#include "common/result.h"

namespace canaryctl::kube {

struct Request {
  std::string method;                        // GET, POST, PUT, PATCH, DELETE
  std::string path;                          // "/apis/networking.istio.io/v1/namespaces/prod/..."
  std::map<std::string, std::string> query;  // encoded by the client
  std::string body;
  std::string content_type;  // e.g. "application/merge-patch+json"
};

struct Response {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

class Client {
 public:
  virtual ~Client() = default;
  // The final response, whatever its HTTP status, or a kCluster Error when none could be had
  // (connection refused, TLS failure, deadline passed while retrying).
  virtual Result<Response> Send(const Request& request) = 0;
};

}  // namespace canaryctl::kube
