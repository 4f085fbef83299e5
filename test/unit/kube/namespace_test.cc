// Tests of kube/namespace.h against a fake Client that records requests and answers from a
// script.
#include "kube/namespace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <vector>

namespace canaryctl::kube {
namespace {

using ::testing::HasSubstr;

class FakeClient : public Client {
 public:
  explicit FakeClient(std::vector<Result<Response>> answers)
      : answers_(answers.begin(), answers.end()) {}
  Result<Response> Send(const Request& request) override {
    sent.push_back(request);
    if (answers_.empty()) return ClusterError("fake: no answer scripted");
    Result<Response> answer = answers_.front();
    answers_.pop_front();
    return answer;
  }
  std::vector<Request> sent;

 private:
  std::deque<Result<Response>> answers_;
};

Response Answer(int status, std::string body) { return Response{status, std::move(body), {}}; }

Response Namespace(const std::string& labels_json, const std::string& phase = "Active") {
  return Answer(200, R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"stage",)"
                     R"("labels":)" +
                         labels_json + R"(},"status":{"phase":")" + phase + R"("}})");
}

Response Status(int code, const std::string& reason, const std::string& message) {
  return Answer(code, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":")" +
                          message + R"(","reason":")" + reason + R"(","code":)" +
                          std::to_string(code) + "}");
}

const std::map<std::string, std::string> kLabels = {{"app", "demoapp"},
                                                    {"istio-injection", "enabled"}};

TEST(EnsureNamespace, AbsentIsCreatedWithItsLabels) {
  FakeClient client(
      {Status(404, "NotFound", R"(namespaces \"stage\" not found)"), Answer(201, "{}")});
  ASSERT_TRUE(EnsureNamespace(client, "stage", kLabels).ok());
  ASSERT_EQ(client.sent.size(), 2u);
  EXPECT_EQ(client.sent[0].method, "GET");
  EXPECT_EQ(client.sent[0].path, "/api/v1/namespaces/stage");
  EXPECT_EQ(client.sent[1].method, "POST");
  EXPECT_EQ(client.sent[1].path, "/api/v1/namespaces");
  EXPECT_EQ(client.sent[1].content_type, "application/json");
  EXPECT_EQ(client.sent[1].body,
            R"({"apiVersion":"v1","kind":"Namespace","metadata":{"labels":{"app":"demoapp",)"
            R"("istio-injection":"enabled"},"name":"stage"}})");
}

TEST(EnsureNamespace, AbsentWithoutLabelsIsCreatedBare) {
  FakeClient client({Answer(404, ""), Answer(201, "{}")});
  ASSERT_TRUE(EnsureNamespace(client, "stage", {}).ok());
  ASSERT_EQ(client.sent.size(), 2u);
  EXPECT_EQ(client.sent[1].body,
            R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"stage"}})");
}

TEST(EnsureNamespace, PresentWithTheLabelsIsOnlyRead) {
  FakeClient client(
      {Namespace(R"({"app":"demoapp","istio-injection":"enabled","team":"payments"})")});
  ASSERT_TRUE(EnsureNamespace(client, "stage", kLabels).ok());
  ASSERT_EQ(client.sent.size(), 1u);
  EXPECT_EQ(client.sent[0].method, "GET");
}

TEST(EnsureNamespace, PresentWithoutLabelsIsPatchedWithExactlyTheMissingOnes) {
  FakeClient client({Namespace(R"({"app":"demoapp","team":"payments"})"), Answer(200, "{}")});
  ASSERT_TRUE(EnsureNamespace(client, "stage", kLabels).ok());
  ASSERT_EQ(client.sent.size(), 2u);
  EXPECT_EQ(client.sent[1].method, "PATCH");
  EXPECT_EQ(client.sent[1].path, "/api/v1/namespaces/stage");
  EXPECT_EQ(client.sent[1].content_type, "application/merge-patch+json");
  EXPECT_EQ(client.sent[1].body, R"({"metadata":{"labels":{"istio-injection":"enabled"}}})");
}

TEST(EnsureNamespace, ADifferentValueIsPatchedAndNoLabelsAtAllToo) {
  FakeClient different(
      {Namespace(R"({"app":"demoapp","istio-injection":"disabled"})"), Answer(200, "{}")});
  ASSERT_TRUE(EnsureNamespace(different, "stage", kLabels).ok());
  ASSERT_EQ(different.sent.size(), 2u);
  EXPECT_EQ(different.sent[1].body, R"({"metadata":{"labels":{"istio-injection":"enabled"}}})");

  FakeClient unlabelled(
      {Answer(200, R"({"kind":"Namespace","metadata":{"name":"stage"}})"), Answer(200, "{}")});
  ASSERT_TRUE(EnsureNamespace(unlabelled, "stage", {{"app", "demoapp"}}).ok());
  ASSERT_EQ(unlabelled.sent.size(), 2u);
  EXPECT_EQ(unlabelled.sent[1].body, R"({"metadata":{"labels":{"app":"demoapp"}}})");
}

TEST(EnsureNamespace, NoLabelsAskedMeansNoWrite) {
  FakeClient client({Namespace("{}")});
  ASSERT_TRUE(EnsureNamespace(client, "stage", {}).ok());
  EXPECT_EQ(client.sent.size(), 1u);
}

TEST(EnsureNamespace, ConflictOnCreateReadsAgain) {
  FakeClient client({Answer(404, ""),
                     Status(409, "AlreadyExists", R"(namespaces \"stage\" already exists)"),
                     Namespace(R"({"app":"demoapp","istio-injection":"enabled"})")});
  ASSERT_TRUE(EnsureNamespace(client, "stage", kLabels).ok());
  ASSERT_EQ(client.sent.size(), 3u);
  EXPECT_EQ(client.sent[0].method, "GET");
  EXPECT_EQ(client.sent[1].method, "POST");
  EXPECT_EQ(client.sent[2].method, "GET");
  EXPECT_EQ(client.sent[2].path, "/api/v1/namespaces/stage");
}

TEST(EnsureNamespace, ConflictOnCreateThenLabelsWhatTheOtherCreatorLeftOut) {
  FakeClient client({Answer(404, ""), Answer(409, ""), Namespace("{}"), Answer(200, "{}")});
  ASSERT_TRUE(EnsureNamespace(client, "stage", {{"app", "demoapp"}}).ok());
  ASSERT_EQ(client.sent.size(), 4u);
  EXPECT_EQ(client.sent[3].method, "PATCH");
  EXPECT_EQ(client.sent[3].body, R"({"metadata":{"labels":{"app":"demoapp"}}})");
}

TEST(EnsureNamespace, ForbiddenNamesTheNamespaceAndTheApiMessage) {
  FakeClient client({Status(403, "Forbidden",
                            R"(namespaces \"stage\" is forbidden: User \"ci\" cannot get )"
                            R"(resource \"namespaces\" in API group \"\" in the namespace )"
                            R"(\"stage\")")});
  auto status = EnsureNamespace(client, "stage", kLabels);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kCluster);
  EXPECT_EQ(status.error().message,
            "namespace \"stage\": cannot read it: GET /api/v1/namespaces/stage: namespaces "
            "\"stage\" is forbidden: User \"ci\" cannot get resource \"namespaces\" in API group "
            "\"\" in the namespace \"stage\" (403)");
  EXPECT_EQ(client.sent.size(), 1u);
}

TEST(EnsureNamespace, FailedWritesAreErrors) {
  FakeClient create({Answer(404, ""), Status(403, "Forbidden", "cannot create namespaces")});
  auto created = EnsureNamespace(create, "stage", kLabels);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().kind, ErrorKind::kCluster);
  EXPECT_EQ(created.error().message,
            "namespace \"stage\": cannot create it: POST /api/v1/namespaces: cannot create "
            "namespaces (403)");

  FakeClient patch({Namespace("{}"), Status(422, "Invalid", "metadata.labels: Invalid value")});
  auto patched = EnsureNamespace(patch, "stage", {{"app", "demo app"}});
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.error().message,
            "namespace \"stage\": cannot label it: PATCH /api/v1/namespaces/stage: "
            "metadata.labels: Invalid value (422)");
}

TEST(EnsureNamespace, TransportErrorNamesTheNamespace) {
  FakeClient client({ClusterError("connection refused")});
  auto status = EnsureNamespace(client, "stage", kLabels);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kCluster);
  EXPECT_EQ(status.error().message, "namespace \"stage\": cannot read it: connection refused");
}

TEST(EnsureNamespace, TerminatingIsAnError) {
  FakeClient client({Namespace(R"({"app":"demoapp"})", "Terminating")});
  auto status = EnsureNamespace(client, "stage", {{"app", "demoapp"}});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::kCluster);
  EXPECT_THAT(status.error().message, HasSubstr("namespace \"stage\" is being deleted"));
  EXPECT_EQ(client.sent.size(), 1u);
}

TEST(EnsureNamespace, InvalidNameSendsNothing) {
  for (const std::string& bad :
       std::vector<std::string>{"", "Stage", "stage/pods", "-x", std::string(64, 'a')}) {
    FakeClient client({});
    auto status = EnsureNamespace(client, bad, {});
    ASSERT_FALSE(status.ok()) << bad;
    EXPECT_EQ(status.error().kind, ErrorKind::kConfig);
    EXPECT_THAT(status.error().message, HasSubstr("not a DNS-1123 label"));
    EXPECT_TRUE(client.sent.empty());
  }
}

}  // namespace
}  // namespace canaryctl::kube
