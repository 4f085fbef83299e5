// Poco's HTTPServer asks a factory for a handler object per request; each of the sandbox's
// servers (the API, the gateway, every workload) instead has one object whose
// Serve(request, response) answers all of them. ServeFactory adapts the one to the other.
// The target must outlive the HTTPServer that owns the factory.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

namespace sandbox {

template <typename Target>
class ServeFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit ServeFactory(Target& target) : target_(target) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(target_);
  }

 private:
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(Target& target) : target_(target) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      target_.Serve(request, response);
    }

   private:
    Target& target_;
  };

  Target& target_;
};

}  // namespace sandbox
