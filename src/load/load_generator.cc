#include "load/load_generator.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <istream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "checks/http_session.h"
#include "checks/json_field.h"

namespace canaryctl::load {
namespace {

using Clock = std::chrono::steady_clock;

// A JSON split is read from at most this much of the body; the rest is drained unread.
constexpr std::size_t kMaxJsonBytes = 1024 * 1024;

// Safe to send twice: a request lost with a reused connection is sent again (RFC 9110 9.2.2).
bool Idempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE";
}

// What one request came to.
struct Outcome {
  bool answered = false;
  bool error = false;
  bool timed_out = false;
  std::string version;  // by load.split; "" when the answer does not say
  double ms = 0;        // from sending to the end of the body (or to giving up)
};

double Percentile99(std::vector<double> values) {
  if (values.empty()) return 0;
  // Nearest rank: the smallest value with at least 99% of the values at or below it.
  const std::size_t rank = (values.size() * 99 + 99) / 100;
  auto nth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
  std::nth_element(values.begin(), nth, values.end());
  return *nth;
}

}  // namespace

struct LoadGenerator::Impl {
  Impl(const config::LoadSpec& s, std::optional<checks::HttpProxy> p)
      : spec(s), proxy(std::move(p)) {}

  void Work();
  // Waits for this worker's next slot of the schedule; false once stopping.
  bool NextSlot();
  // One request on *session (opened, or reopened, as needed).
  Outcome Send(const Poco::URI& uri, const std::string& target,
               std::unique_ptr<Poco::Net::HTTPClientSession>* session, int* served);
  Outcome Exchange(Poco::Net::HTTPClientSession& session, const std::string& target,
                   Clock::time_point deadline, bool* keep_alive);
  void Record(const Outcome& outcome);
  report::LoadRecord Counts() const;

  const config::LoadSpec spec;
  const std::optional<checks::HttpProxy> proxy;

  mutable std::mutex counts_mu;  // guards the counts
  int64_t requests = 0;
  int64_t errors = 0;
  std::vector<double> latencies_ms;
  std::map<std::string, int64_t> by_version;

  std::mutex schedule_mu;  // guards the schedule
  std::condition_variable wake;
  bool stopping = true;
  int64_t next_slot = 0;
  Clock::time_point start;

  std::vector<std::thread> workers;  // only Start and Stop touch it
};

bool LoadGenerator::Impl::NextSlot() {
  std::unique_lock lock(schedule_mu);
  if (stopping) return false;
  const int64_t slot = next_slot++;
  const auto due =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(static_cast<double>(slot) / spec.rate));
  return !wake.wait_until(lock, due, [this] { return stopping; });
}

void LoadGenerator::Impl::Work() {
  Poco::URI uri;
  try {
    uri = Poco::URI(spec.url);
  } catch (const Poco::Exception&) {
    // The configuration checked the URL; a hand-made spec with a bad one fails every request.
  }
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  int served = 0;  // answers on the current connection
  const std::string path = uri.getPathAndQuery();
  const std::string target = path.empty() ? std::string("/") : path;
  while (NextSlot()) Record(Send(uri, target, &session, &served));
}

Outcome LoadGenerator::Impl::Send(const Poco::URI& uri, const std::string& target,
                                  std::unique_ptr<Poco::Net::HTTPClientSession>* session,
                                  int* served) {
  const Clock::time_point sent = Clock::now();
  const Clock::time_point deadline = sent + spec.timeout;
  Outcome outcome;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const bool reused = *session != nullptr && *served > 0;
    try {
      if (*session == nullptr) {
        if (uri.getScheme() != "http" && uri.getScheme() != "https") {
          throw Poco::InvalidArgumentException("not an http(s) URL", spec.url);
        }
        *session = checks::OpenHttpSession(uri, {spec.timeout, false, "", proxy});
        (*session)->setKeepAlive(true);
        *served = 0;
      }
      bool keep_alive = false;
      outcome = Exchange(**session, target, deadline, &keep_alive);
      ++*served;
      if (!keep_alive) session->reset();
      break;
    } catch (const Poco::TimeoutException&) {
      session->reset();
      outcome = Outcome{};
      outcome.error = outcome.timed_out = true;
      break;
    } catch (const std::exception&) {  // Poco::Exception derives from std::exception
      session->reset();
      outcome = Outcome{};
      outcome.error = true;
      // The server may have closed the idle connection just as the request went out.
      if (!(reused && Idempotent(spec.method) && Clock::now() < deadline)) break;
    }
  }
  outcome.ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
  return outcome;
}

Outcome LoadGenerator::Impl::Exchange(Poco::Net::HTTPClientSession& session,
                                      const std::string& target, Clock::time_point deadline,
                                      bool* keep_alive) {
  // Each blocking step gets what is left of the request's timeout, so that a whole request,
  // not each step of it, ends within the timeout.
  auto limit = [&] {
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw Poco::TimeoutException("request timeout");
    const Poco::Timespan timeout(left.count());  // never 0: a socket reads 0 as "no limit"
    session.setTimeout(timeout);                 // for connecting
    if (session.connected()) {
      session.socket().setSendTimeout(timeout);
      session.socket().setReceiveTimeout(timeout);
    }
  };
  Poco::Net::HTTPRequest request(spec.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  request.setKeepAlive(true);
  for (const auto& [name, value] : spec.headers) request.set(name, value);
  if (spec.method == "POST" || spec.method == "PUT" || spec.method == "PATCH") {
    request.setContentLength(0);
  }
  limit();
  session.sendRequest(request);
  limit();
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  const bool want_body = spec.split && spec.split->json;
  std::string body;
  char buffer[16384];
  while (true) {
    limit();
    if (!in.read(buffer, sizeof buffer) && in.gcount() == 0) break;
    const auto n = static_cast<std::size_t>(in.gcount());
    if (want_body)
      body.append(buffer, std::min(n, kMaxJsonBytes - std::min(kMaxJsonBytes, body.size())));
  }
  *keep_alive = response.getKeepAlive();

  Outcome outcome;
  outcome.answered = true;
  outcome.error = static_cast<int>(response.getStatus()) >= 500;
  if (spec.split && spec.split->header) {
    outcome.version = response.get(*spec.split->header, "");
  } else if (want_body) {
    try {
      if (auto field =
              checks::FollowJsonPath(Poco::JSON::Parser().parse(body), *spec.split->json)) {
        outcome.version = checks::JsonText(*field);
      }
    } catch (const Poco::Exception&) {
      // Not JSON (an error page, say): the answer does not say which side served it.
    }
  }
  return outcome;
}

void LoadGenerator::Impl::Record(const Outcome& outcome) {
  std::lock_guard lock(counts_mu);
  ++requests;
  if (outcome.error) ++errors;
  if (outcome.answered || outcome.timed_out) latencies_ms.push_back(outcome.ms);
  if (outcome.answered && spec.split) ++by_version[outcome.version];
}

report::LoadRecord LoadGenerator::Impl::Counts() const {
  report::LoadRecord record;
  std::vector<double> latencies;
  {
    std::lock_guard lock(counts_mu);
    record.requests = requests;
    record.errors = errors;
    record.by_version = by_version;
    latencies = latencies_ms;
  }
  record.p99_ms = Percentile99(std::move(latencies));
  return record;
}

LoadGenerator::LoadGenerator(const config::LoadSpec& spec, std::optional<checks::HttpProxy> proxy)
    : impl_(std::make_unique<Impl>(spec, std::move(proxy))) {}

LoadGenerator::~LoadGenerator() { Stop(); }

void LoadGenerator::Start() {
  Stop();
  {
    std::lock_guard lock(impl_->counts_mu);
    impl_->requests = impl_->errors = 0;
    impl_->latencies_ms.clear();
    impl_->by_version.clear();
  }
  if (!(impl_->spec.rate > 0)) return;  // no schedule to follow
  {
    std::lock_guard lock(impl_->schedule_mu);
    impl_->stopping = false;
    impl_->next_slot = 0;
    impl_->start = Clock::now();
  }
  const int workers = std::max(1, impl_->spec.concurrency);
  for (int i = 0; i < workers; ++i) impl_->workers.emplace_back([this] { impl_->Work(); });
}

report::LoadRecord LoadGenerator::Snapshot() const { return impl_->Counts(); }

report::LoadRecord LoadGenerator::Stop() {
  {
    std::lock_guard lock(impl_->schedule_mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  for (std::thread& worker : impl_->workers) worker.join();
  impl_->workers.clear();
  return impl_->Counts();
}

}  // namespace canaryctl::load
