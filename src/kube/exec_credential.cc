#include "kube/exec_credential.h"

#include <sstream>
#include <thread>

#include <Poco/Base64Encoder.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

namespace canaryctl::kube {
namespace {

constexpr size_t kStderrTail = 400;

std::string Base64(const std::string& data) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << data;
  encoder.close();
  return out.str();
}

std::string ExecInfo(const ExecConfig& exec, const ClusterConfig& cluster) {
  Poco::JSON::Object info;
  info.set("apiVersion", exec.api_version);
  info.set("kind", "ExecCredential");
  Poco::JSON::Object::Ptr spec = new Poco::JSON::Object;
  spec->set("interactive", false);
  if (exec.provide_cluster_info) {
    Poco::JSON::Object::Ptr c = new Poco::JSON::Object;
    c->set("server", cluster.server);
    if (!cluster.tls_server_name.empty()) c->set("tls-server-name", cluster.tls_server_name);
    if (cluster.insecure_skip_tls_verify) c->set("insecure-skip-tls-verify", true);
    if (!cluster.ca_pem.empty()) c->set("certificate-authority-data", Base64(cluster.ca_pem));
    spec->set("cluster", c);
  }
  info.set("spec", spec);
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(info, out);
  return out.str();
}

std::string Tail(const std::string& text) {
  std::string tail =
      text.size() > kStderrTail ? "..." + text.substr(text.size() - kStderrTail) : text;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) {
    tail.pop_back();
  }
  return tail.empty() ? "(no stderr)" : tail;
}

}  // namespace

ExecCredentialProvider::ExecCredentialProvider(ExecConfig exec, ClusterConfig cluster, Clock clock)
    : exec_(std::move(exec)),
      cluster_(std::move(cluster)),
      clock_(clock ? std::move(clock) : [] { return std::chrono::system_clock::now(); }) {}

Result<ExecCredential> ExecCredentialProvider::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cached_ && (!cached_->expiry || clock_() < *cached_->expiry)) return *cached_;
  cached_.reset();
  auto fresh = Run();
  if (!fresh.ok()) return fresh.error();
  cached_ = fresh.value();
  return fresh;
}

void ExecCredentialProvider::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  cached_.reset();
}

int ExecCredentialProvider::runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return runs_;
}

Result<ExecCredential> ExecCredentialProvider::Run() {
  ++runs_;
  const std::string what = exec_.source + ": exec plugin \"" + exec_.command + "\"";
  Poco::Process::Env env;
  for (const auto& [name, value] : exec_.env) env[name] = value;
  env["KUBERNETES_EXEC_INFO"] = ExecInfo(exec_, cluster_);
  Poco::Process::Args args(exec_.args.begin(), exec_.args.end());

  std::string out;
  std::string err;
  int code = -1;
  try {
    Poco::Pipe in_pipe;
    Poco::Pipe out_pipe;
    Poco::Pipe err_pipe;
    Poco::ProcessHandle handle =
        Poco::Process::launch(exec_.command, args, &in_pipe, &out_pipe, &err_pipe, env);
    in_pipe.close();  // stdin: the plugin runs non-interactively
    // Both pipes are drained at once so a chatty plugin cannot block on a full pipe.
    std::thread err_reader([&err_pipe, &err] {
      Poco::PipeInputStream stream(err_pipe);
      Poco::StreamCopier::copyToString(stream, err);
    });
    Poco::PipeInputStream out_stream(out_pipe);
    Poco::StreamCopier::copyToString(out_stream, out);
    err_reader.join();
    code = handle.wait();
  } catch (const Poco::Exception& e) {
    return ConfigError(what + " could not be started: " + e.displayText());
  }
  if (code == 72 && err.empty()) {
    // Poco's child exits 72 when exec() fails.
    return ConfigError(what + " could not be run (not found on PATH or not executable)");
  }
  if (code != 0) {
    return ConfigError(what + " failed with exit code " + std::to_string(code) + ": " + Tail(err));
  }

  Poco::JSON::Object::Ptr root;
  try {
    root = Poco::JSON::Parser().parse(out).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    root = nullptr;
  }
  // The output is not quoted in any message: it may hold the token.
  if (!root) return ConfigError(what + ": its stdout is not an ExecCredential JSON object");
  const std::string api_version = root->optValue<std::string>("apiVersion", "");
  if (api_version != exec_.api_version) {
    return ConfigError(what + ": returned apiVersion \"" + api_version + "\", expected \"" +
                       exec_.api_version + "\"");
  }
  if (root->optValue<std::string>("kind", "") != "ExecCredential") {
    return ConfigError(what + ": returned kind is not ExecCredential");
  }
  Poco::JSON::Object::Ptr status = root->getObject("status");
  if (!status) return ConfigError(what + ": the ExecCredential has no status");
  ExecCredential credential;
  try {
    credential.token = status->optValue<std::string>("token", "");
    credential.client_cert_pem = status->optValue<std::string>("clientCertificateData", "");
    credential.client_key_pem = status->optValue<std::string>("clientKeyData", "");
  } catch (const Poco::Exception&) {
    return ConfigError(what +
                       ": status.token, clientCertificateData and clientKeyData must be "
                       "strings");
  }
  if (credential.client_cert_pem.empty() != credential.client_key_pem.empty()) {
    return ConfigError(what + ": status has only one of clientCertificateData and clientKeyData");
  }
  if (credential.token.empty() && credential.client_cert_pem.empty()) {
    return ConfigError(what + ": status has neither a token nor a client certificate");
  }
  const std::string expiry = status->optValue<std::string>("expirationTimestamp", "");
  if (!expiry.empty()) {
    Poco::DateTime time;
    int tzd = 0;
    if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, expiry, time,
                                        tzd) &&
        !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, expiry, time, tzd)) {
      return ConfigError(what + ": status.expirationTimestamp \"" + expiry +
                         "\" is not an RFC 3339 time");
    }
    time.makeUTC(tzd);
    credential.expiry = std::chrono::system_clock::time_point(
        std::chrono::microseconds(time.timestamp().epochMicroseconds()));
  }
  return credential;
}

}  // namespace canaryctl::kube
