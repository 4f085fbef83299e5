// A minimal kube::Client for the sandbox's plain-HTTP API (no auth, no TLS, no retries), so
// these tests do not depend on the REST client being written alongside them.
#pragma once

#include <functional>
#include <string>

#include "kube/client.h"

namespace canaryctl::traffic::testing {

class PocoClient : public kube::Client {
 public:
  PocoClient(std::string host, int port) : host_(std::move(host)), port_(port) {}
  Result<kube::Response> Send(const kube::Request& request) override;
  // Runs before each PATCH is sent: a concurrent writer.
  std::function<void()> before_patch;

 private:
  std::string host_;
  int port_;
};

}  // namespace canaryctl::traffic::testing
