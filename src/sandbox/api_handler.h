// Serves the Kubernetes API over the store: discovery, OpenAPI v3, CRUD, the patch kinds,
// server-side apply, watches, subresources, and Status errors.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include "sandbox/resource_registry.h"
#include "sandbox/store.h"

namespace sandbox {

struct ApiHandlerOptions {
  size_t max_body_bytes = 3 * 1024 * 1024;  // the apiserver's own limit; larger bodies get 413
};

class ApiHandler {
 public:
  ApiHandler(Store& store, ResourceRegistry& registry, ApiHandlerOptions options);
  ~ApiHandler();
  ApiHandler(const ApiHandler&) = delete;
  ApiHandler& operator=(const ApiHandler&) = delete;
  // Serves one request. Thread-safe; watches stream until the client goes away or Shutdown().
  void Handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  // Ends every open watch promptly (on SIGTERM).
  void Shutdown();

 private:
  Store& store_;
  ResourceRegistry& registry_;
  ApiHandlerOptions options_;
  std::atomic<bool> shutting_down_{false};
  struct Impl;  // request handling, the OpenAPI cache and the open watches
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandbox
