// HttpCheck over TLS: the peer is verified (system CAs plus ca_file) unless `insecure`.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "checks/http_check.h"

namespace canaryctl::checks {
namespace {

class Hello : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) override {
    resp.send() << "secure hello";
  }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Hello;
  }
};

// Makes a self-signed certificate valid for `dns_name` only, with the openssl CLI.
void MakeCertificate(const std::string& dir, const std::string& stem, const std::string& dns_name) {
  Poco::Process::Args args = {"req",
                              "-x509",
                              "-newkey",
                              "rsa:2048",
                              "-nodes",
                              "-keyout",
                              dir + "/" + stem + "-key.pem",
                              "-out",
                              dir + "/" + stem + ".pem",
                              "-days",
                              "2",
                              "-subj",
                              "/CN=" + dns_name,
                              "-addext",
                              "subjectAltName=DNS:" + dns_name};
  Poco::Pipe quiet;
  auto handle = Poco::Process::launch("openssl", args, nullptr, &quiet, &quiet);
  quiet.close(Poco::Pipe::CLOSE_WRITE);
  ASSERT_EQ(handle.wait(), 0) << "openssl req failed for " << dns_name;
}

// An HTTPS server on 127.0.0.1 presenting dir/stem.pem.
class TlsServer {
 public:
  TlsServer(const std::string& dir, const std::string& stem)
      : context_(new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE,
                                        dir + "/" + stem + "-key.pem", dir + "/" + stem + ".pem",
                                        "", Poco::Net::Context::VERIFY_NONE)),
        socket_(Poco::Net::SocketAddress("127.0.0.1", 0), 64, context_),
        server_(new Factory, socket_, new Poco::Net::HTTPServerParams) {
    server_.start();
  }
  ~TlsServer() { server_.stopAll(true); }
  int port() const { return socket_.address().port(); }

 private:
  Poco::Net::Context::Ptr context_;
  Poco::Net::SecureServerSocket socket_;
  Poco::Net::HTTPServer server_;
};

class HttpsCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/canaryctl-tls-XXXXXX";
    dir_ = new std::string(mkdtemp(pattern));
    MakeCertificate(*dir_, "cert", "localhost");
    MakeCertificate(*dir_, "other", "canary.invalid");
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  HttpCheckSpec Spec(const std::string& host, int port) const {
    HttpCheckSpec spec;
    spec.name = "tls";
    spec.url = "https://" + host + ":" + std::to_string(port) + "/";
    spec.timeout = std::chrono::seconds(20);
    return spec;
  }
  HttpCheckSpec Spec(const std::string& host) const { return Spec(host, server_.port()); }

  static std::string* dir_;
  TlsServer server_{*dir_, "cert"};
};
std::string* HttpsCheckTest::dir_ = nullptr;

TEST_F(HttpsCheckTest, UnknownIssuerFails) {
  const CheckResult r = HttpCheck(Spec("localhost")).Run(StepContext{});
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_TRUE(r.output.empty());
  EXPECT_NE(r.message.find("certificate verify failed"), std::string::npos) << r.message;
}

TEST_F(HttpsCheckTest, CaFileMakesTheServerTrusted) {
  HttpCheckSpec spec = Spec("localhost");
  spec.ca_file = *dir_ + "/cert.pem";
  const CheckResult r = HttpCheck(spec).Run(StepContext{});
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
  EXPECT_EQ(r.output, "secure hello");
}

TEST_F(HttpsCheckTest, TrustedCertificateForAnotherNameFails) {
  TlsServer other(*dir_, "other");  // presents a certificate for canary.invalid
  HttpCheckSpec spec = Spec("localhost", other.port());
  spec.ca_file = *dir_ + "/other.pem";
  const CheckResult r = HttpCheck(spec).Run(StepContext{});
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_TRUE(r.output.empty());
  EXPECT_NE(r.message.find("localhost"), std::string::npos) << r.message;
}

TEST_F(HttpsCheckTest, InsecureSkipsVerification) {
  HttpCheckSpec spec = Spec("127.0.0.1");
  spec.insecure = true;
  const CheckResult r = HttpCheck(spec).Run(StepContext{});
  EXPECT_EQ(r.verdict, Verdict::kPass) << r.message;
}

}  // namespace
}  // namespace canaryctl::checks
