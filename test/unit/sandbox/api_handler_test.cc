// The API handler behind a real Poco HTTP server on loopback, driven over HTTP as clients do.
#include "sandbox/api_handler.h"

#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include "sandbox/api_table.h"
#include "sandbox/discovery.h"
#include "sandbox/json_util.h"
#include "sandbox/resource_registry.h"
#include "sandbox/store.h"

namespace sandbox {
namespace {

using json::ObjectPtr;

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(ApiHandler& api) : api_(api) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    api_.Handle(req, resp);
  }

 private:
  ApiHandler& api_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(ApiHandler& api) : api_(api) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(api_);
  }

 private:
  ApiHandler& api_;
};

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::vector<std::string> warnings;
  ObjectPtr json;  // null if the body is not a JSON object
};

constexpr const char* kCrd = R"({
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.com"},
  "spec": {
    "group": "example.com", "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
    "versions": [
      {"name": "v1", "served": true, "storage": true,
       "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
       "subresources": {"status": {}},
       "schema": {"openAPIV3Schema": {"type": "object", "properties": {
         "spec": {"type": "object", "required": ["size"], "properties": {
           "size": {"type": "integer"},
           "color": {"type": "string", "enum": ["red", "blue"]}}},
         "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}},
      {"name": "v1beta1", "served": true, "storage": false,
       "schema": {"openAPIV3Schema": {"type": "object",
         "x-kubernetes-preserve-unknown-fields": true}}}
    ]}})";

class ApiHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ApiHandlerOptions{}); }

  void Start(ApiHandlerOptions options) {
    auto store = Store::Open("");
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    registry_ = std::make_unique<ResourceRegistry>(*store_);
    api_ = std::make_unique<ApiHandler>(*store_, *registry_, options);
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(16);
    params->setKeepAlive(true);
    server_ = std::make_unique<Poco::Net::HTTPServer>(
        new Factory(*api_), Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)),
        params);
    server_->start();
  }

  void TearDown() override {
    api_->Shutdown();
    server_->stopAll(true);
  }

  Reply Do(const std::string& method, const std::string& uri, const std::string& body = "",
           const std::string& content_type = "application/json",
           const std::string& accept = "application/json") {
    Poco::Net::HTTPClientSession session("127.0.0.1", server_->port());
    Poco::Net::HTTPRequest req(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    req.set("Accept", accept);
    req.set("User-Agent", "unit-test/1.0");
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.setContentType(content_type);
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    Reply r;
    r.status = resp.getStatus();
    r.content_type = resp.getContentType();
    Poco::StreamCopier::copyToString(in, r.body);
    for (auto it = resp.find("Warning"); it != resp.end() && it->first == "Warning"; ++it) {
      r.warnings.push_back(it->second);
    }
    auto parsed = json::ParseObject(r.body);
    if (parsed.ok()) r.json = parsed.value();
    return r;
  }

  std::string Str(const ObjectPtr& o, const std::string& path) {
    return json::GetString(o, path).value_or("<missing>");
  }

  static std::string ConfigMap(const std::string& name, const std::string& labels = "{}") {
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
           R"(","labels":)" + labels + R"(},"data":{"k":"v"}})";
  }

  static std::string Deployment(const std::string& name, int replicas) {
    return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
           R"("},"spec":{"replicas":)" + std::to_string(replicas) +
           R"(,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":)"
           R"({"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}})";
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<ResourceRegistry> registry_;
  std::unique_ptr<ApiHandler> api_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// Reads watch events line by line from a streaming response.
class WatchStream {
 public:
  WatchStream(uint16_t port, const std::string& uri) : session_("127.0.0.1", port) {
    Poco::Net::HTTPRequest req("GET", uri, Poco::Net::HTTPMessage::HTTP_1_1);
    session_.sendRequest(req);
    in_ = &session_.receiveResponse(resp_);
  }
  int status() const { return resp_.getStatus(); }
  ObjectPtr Next() {
    std::string line;
    if (!std::getline(*in_, line)) return nullptr;
    auto parsed = json::ParseObject(line);
    return parsed.ok() ? parsed.value() : nullptr;
  }

 private:
  Poco::Net::HTTPClientSession session_;
  Poco::Net::HTTPResponse resp_;
  std::istream* in_ = nullptr;
};

// --- discovery ----------------------------------------------------------------------------------

TEST_F(ApiHandlerTest, VersionAndHealth) {
  Reply v = Do("GET", "/version");
  ASSERT_EQ(v.status, 200);
  EXPECT_EQ(Str(v.json, "major"), "1");
  EXPECT_EQ(Str(v.json, "minor"), "34");
  EXPECT_EQ(Str(v.json, "gitVersion").rfind("v1.34.", 0), 0u);
  for (const char* path : {"/healthz", "/readyz", "/livez"}) {
    Reply h = Do("GET", path);
    EXPECT_EQ(h.status, 200) << path;
    EXPECT_EQ(h.body, "ok") << path;
  }
}

ObjectPtr FindResource(const ObjectPtr& list, const std::string& name) {
  json::ArrayPtr resources = json::GetArray(list, "resources");
  for (size_t i = 0; resources && i < resources->size(); ++i) {
    ObjectPtr r = json::AsObject(resources->get(i));
    if (json::GetString(r, "name").value_or("") == name) return r;
  }
  return nullptr;
}

TEST_F(ApiHandlerTest, CoreAndGroupDiscovery) {
  Reply api = Do("GET", "/api");
  ASSERT_EQ(api.status, 200);
  EXPECT_EQ(Str(api.json, "kind"), "APIVersions");

  Reply core = Do("GET", "/api/v1");
  ASSERT_EQ(core.status, 200);
  EXPECT_EQ(Str(core.json, "groupVersion"), "v1");
  ObjectPtr pods = FindResource(core.json, "pods");
  ASSERT_TRUE(pods);
  EXPECT_TRUE(json::GetBool(pods, "namespaced").value_or(false));
  EXPECT_EQ(json::Stringify(pods->get("shortNames")), R"(["po"])");
  ObjectPtr ns = FindResource(core.json, "namespaces");
  ASSERT_TRUE(ns);
  EXPECT_FALSE(json::GetBool(ns, "namespaced").value_or(true));

  Reply apps = Do("GET", "/apis/apps/v1");
  ASSERT_EQ(apps.status, 200);
  ObjectPtr scale = FindResource(apps.json, "deployments/scale");
  ASSERT_TRUE(scale);
  EXPECT_EQ(Str(scale, "kind"), "Scale");
  EXPECT_EQ(Str(scale, "group"), "autoscaling");
  EXPECT_TRUE(FindResource(apps.json, "deployments/status"));
  EXPECT_FALSE(FindResource(apps.json, "controllerrevisions/status"));

  Reply groups = Do("GET", "/apis");
  ASSERT_EQ(groups.status, 200);
  EXPECT_EQ(Str(groups.json, "kind"), "APIGroupList");
  bool saw_autoscaling = false;
  json::ArrayPtr list = json::GetArray(groups.json, "groups");
  for (size_t i = 0; list && i < list->size(); ++i) {
    ObjectPtr g = json::AsObject(list->get(i));
    EXPECT_NE(Str(g, "name"), "");  // the core group is not in /apis
    if (Str(g, "name") == "autoscaling") {
      saw_autoscaling = true;
      EXPECT_EQ(Str(g, "preferredVersion.version"), "v2");
      EXPECT_EQ(json::GetArray(g, "versions")->size(), 2u);
    }
  }
  EXPECT_TRUE(saw_autoscaling);

  EXPECT_EQ(Do("GET", "/apis/apps").status, 200);
  EXPECT_EQ(Do("GET", "/apis/nope.example.com/v1").status, 404);
  EXPECT_EQ(Do("GET", "/apis/apps/v2").status, 404);
  Reply unknown = Do("GET", "/api/v1/frobs");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Str(unknown.json, "kind"), "Status");
  EXPECT_EQ(Str(unknown.json, "reason"), "NotFound");
}

TEST_F(ApiHandlerTest, OpenApiV3DocumentsCarryPatchWithFieldValidation) {
  Reply index = Do("GET", "/openapi/v3");
  ASSERT_EQ(index.status, 200);
  std::string url = Str(index.json, "paths.apis/apps/v1.serverRelativeURL");
  // dotted lookup cannot pass "apis/apps/v1" whole; read it by hand
  ObjectPtr paths = json::GetObject(index.json, "paths");
  ASSERT_TRUE(paths && paths->has("apis/apps/v1") && paths->has("api/v1"));
  url = Str(json::AsObject(paths->get("apis/apps/v1")), "serverRelativeURL");
  ASSERT_EQ(url.rfind("/openapi/v3/apis/apps/v1?hash=", 0), 0u) << url;

  Reply doc = Do("GET", url);
  ASSERT_EQ(doc.status, 200);
  ObjectPtr doc_paths = json::GetObject(doc.json, "paths");
  ASSERT_TRUE(doc_paths);
  ObjectPtr item =
      json::AsObject(doc_paths->get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"));
  ASSERT_TRUE(item);
  ObjectPtr patch = json::GetObject(item, "patch");
  ASSERT_TRUE(patch);
  EXPECT_EQ(Str(patch, "x-kubernetes-group-version-kind.kind"), "Deployment");
  EXPECT_NE(json::Stringify(patch->get("parameters")).find("\"fieldValidation\""),
            std::string::npos);

  EXPECT_EQ(Do("GET", "/openapi/v3/apis/example.com/v1").status, 404);
  ASSERT_EQ(Do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kCrd).status,
            201);
  Reply after = Do("GET", "/openapi/v3");
  ObjectPtr after_paths = json::GetObject(after.json, "paths");
  ASSERT_TRUE(after_paths->has("apis/example.com/v1"));
  ASSERT_TRUE(after_paths->has("apis/example.com/v1beta1"));
  EXPECT_EQ(Do("GET", "/openapi/v3/apis/example.com/v1").status, 200);
}

// --- CRUD ---------------------------------------------------------------------------------------

TEST_F(ApiHandlerTest, CreateGetListUpdateDelete) {
  Reply created =
      Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("one", R"({"app":"a"})"));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Str(created.json, "kind"), "ConfigMap");
  EXPECT_EQ(Str(created.json, "apiVersion"), "v1");
  EXPECT_EQ(Str(created.json, "metadata.namespace"), "default");
  EXPECT_NE(Str(created.json, "metadata.uid"), "<missing>");
  std::string rv = Str(created.json, "metadata.resourceVersion");
  ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("two", R"({"app":"b"})"))
                .status,
            201);

  Reply again = Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("one"));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Str(again.json, "reason"), "AlreadyExists");

  Reply got = Do("GET", "/api/v1/namespaces/default/configmaps/one");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Str(got.json, "data.k"), "v");

  Reply list = Do("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Da");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Str(list.json, "kind"), "ConfigMapList");
  EXPECT_NE(Str(list.json, "metadata.resourceVersion"), "<missing>");
  ASSERT_EQ(json::GetArray(list.json, "items")->size(), 1u);
  ObjectPtr item = json::AsObject(json::GetArray(list.json, "items")->get(0));
  EXPECT_EQ(Str(item, "metadata.name"), "one");
  EXPECT_EQ(Str(item, "kind"), "ConfigMap");

  Reply all = Do("GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Dtwo");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(json::GetArray(all.json, "items")->size(), 1u);

  Reply paged = Do("GET", "/api/v1/namespaces/default/configmaps?limit=1");
  ASSERT_EQ(paged.status, 200);
  ASSERT_EQ(json::GetArray(paged.json, "items")->size(), 1u);
  std::string token = Str(paged.json, "metadata.continue");
  ASSERT_NE(token, "<missing>");
  Reply page2 = Do("GET", "/api/v1/namespaces/default/configmaps?limit=1&continue=" + token);
  ASSERT_EQ(json::GetArray(page2.json, "items")->size(), 1u);
  EXPECT_EQ(Str(json::AsObject(json::GetArray(page2.json, "items")->get(0)), "metadata.name"),
            "two");

  // PUT with a stale resourceVersion is a conflict; with the current one it succeeds.
  ObjectPtr update = got.json;
  json::GetObject(update, "data")->set("k", "changed");
  Reply updated = Do("PUT", "/api/v1/namespaces/default/configmaps/one", json::Stringify(update));
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Str(updated.json, "data.k"), "changed");
  EXPECT_NE(Str(updated.json, "metadata.resourceVersion"), rv);
  Reply stale = Do("PUT", "/api/v1/namespaces/default/configmaps/one", json::Stringify(update));
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(Str(stale.json, "reason"), "Conflict");
  EXPECT_NE(Str(stale.json, "message").find("the object has been modified"), std::string::npos);

  Reply deleted = Do("DELETE", "/api/v1/namespaces/default/configmaps/one");
  EXPECT_EQ(deleted.status, 200);
  Reply gone = Do("GET", "/api/v1/namespaces/default/configmaps/one");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(Str(gone.json, "reason"), "NotFound");
  EXPECT_EQ(Str(gone.json, "message"), "configmaps \"one\" not found");
  EXPECT_EQ(Do("DELETE", "/api/v1/namespaces/default/configmaps/one").status, 404);
}

TEST_F(ApiHandlerTest, DefaultNamespacesExistAndNamespacesAreCreatedAsObjects) {
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/default").status, 200);
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/kube-system").status, 200);
  Reply ns = Do("POST", "/api/v1/namespaces",
                R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})");
  ASSERT_EQ(ns.status, 201) << ns.body;
  EXPECT_EQ(Do("POST", "/api/v1/namespaces/prod/configmaps", ConfigMap("c")).status, 201);
}

TEST_F(ApiHandlerTest, CreateErrors) {
  Reply missing_ns = Do("POST", "/api/v1/namespaces/nope/configmaps", ConfigMap("c"));
  EXPECT_EQ(missing_ns.status, 404);
  EXPECT_EQ(Str(missing_ns.json, "message"), "namespaces \"nope\" not found");

  Reply bad_name = Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("Bad_Name"));
  EXPECT_EQ(bad_name.status, 422);
  EXPECT_EQ(Str(bad_name.json, "reason"), "Invalid");
  EXPECT_NE(json::Stringify(bad_name.json->get("details")).find("metadata.name"),
            std::string::npos);

  Reply wrong_kind = Do("POST", "/api/v1/namespaces/default/secrets", ConfigMap("c"));
  EXPECT_EQ(wrong_kind.status, 400);
  Reply wrong_version = Do("POST", "/apis/apps/v1/namespaces/default/deployments",
                           R"({"apiVersion":"v1","kind":"Deployment","metadata":{"name":"d"}})");
  EXPECT_EQ(wrong_version.status, 400);
  Reply wrong_ns = Do("POST", "/api/v1/namespaces/default/configmaps",
                      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x",)"
                      R"("namespace":"other"}})");
  EXPECT_EQ(wrong_ns.status, 400);

  Reply malformed = Do("POST", "/api/v1/namespaces/default/configmaps", "{not json");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Str(malformed.json, "kind"), "Status");
  Reply bad_proto = Do("POST", "/api/v1/namespaces/default/configmaps", "garbage",
                       "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(bad_proto.status, 400);
  Reply bad_type =
      Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("c"), "text/plain");
  EXPECT_EQ(bad_type.status, 415);

  // Nothing of the above was stored.
  Reply list = Do("GET", "/api/v1/configmaps");
  EXPECT_EQ(json::GetArray(list.json, "items")->size(), 0u);
}

TEST_F(ApiHandlerTest, YamlBodyCreates) {
  Reply r = Do("POST", "/api/v1/namespaces/default/configmaps",
               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  n: \"42\"\n",
               "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Str(r.json, "data.n"), "42");  // quoted scalars stay strings
}

TEST_F(ApiHandlerTest, DryRunDoesNotStore) {
  Reply r = Do("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", ConfigMap("dry"));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(Str(r.json, "metadata.name"), "dry");
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/default/configmaps/dry").status, 404);
}

TEST_F(ApiHandlerTest, BodyTooLargeIs413) {
  TearDown();
  ApiHandlerOptions options;
  options.max_body_bytes = 1024;
  Start(options);
  std::string big = ConfigMap("big");
  big.insert(big.size() - 2, ",\"pad\":\"" + std::string(2000, 'x') + "\"");
  Reply r = Do("POST", "/api/v1/namespaces/default/configmaps", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Str(r.json, "reason"), "RequestEntityTooLarge");
  EXPECT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("small")).status, 201);
}

TEST_F(ApiHandlerTest, DeletePreconditionsAndDeleteCollection) {
  Reply a = Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("a", R"({"app":"x"})"));
  ASSERT_EQ(a.status, 201);
  ASSERT_EQ(
      Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("b", R"({"app":"x"})")).status,
      201);
  ASSERT_EQ(
      Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("c", R"({"app":"y"})")).status,
      201);
  Reply stale = Do("DELETE", "/api/v1/namespaces/default/configmaps/a",
                   R"({"kind":"DeleteOptions","apiVersion":"v1",)"
                   R"("preconditions":{"resourceVersion":"999999"}})");
  EXPECT_EQ(stale.status, 409);
  Reply wrong_uid = Do("DELETE", "/api/v1/namespaces/default/configmaps/a",
                       R"({"preconditions":{"uid":"not-the-uid"}})");
  EXPECT_EQ(wrong_uid.status, 409);
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/default/configmaps/a").status, 200);
  Reply ok = Do("DELETE", "/api/v1/namespaces/default/configmaps/a",
                R"({"preconditions":{"uid":")" + Str(a.json, "metadata.uid") + R"("}})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Str(ok.json, "status"), "Success");

  Reply collection = Do("DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx");
  ASSERT_EQ(collection.status, 200) << collection.body;
  EXPECT_EQ(Str(collection.json, "kind"), "ConfigMapList");
  ASSERT_EQ(json::GetArray(collection.json, "items")->size(), 1u);
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/default/configmaps/b").status, 404);
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/default/configmaps/c").status, 200);
}

TEST_F(ApiHandlerTest, PartialObjectMetadataList) {
  ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("m")).status, 201);
  Reply r = Do("GET", "/api/v1/namespaces/default/configmaps", "", "",
               "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Str(r.json, "kind"), "PartialObjectMetadataList");
  ObjectPtr item = json::AsObject(json::GetArray(r.json, "items")->get(0));
  EXPECT_EQ(Str(item, "metadata.name"), "m");
  EXPECT_EQ(Str(item, "data.k"), "<missing>");
}

TEST_F(ApiHandlerTest, WatchFromATooOldVersionIsGone) {
  TearDown();
  StoreOptions options;
  options.watch_history = 2;
  auto store = Store::Open("", options);
  ASSERT_TRUE(store.ok());
  store_ = std::move(store).value();
  registry_ = std::make_unique<ResourceRegistry>(*store_);
  api_ = std::make_unique<ApiHandler>(*store_, *registry_, ApiHandlerOptions{});
  server_ = std::make_unique<Poco::Net::HTTPServer>(
      new Factory(*api_), Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)),
      new Poco::Net::HTTPServerParams);
  server_->start();
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap(name)).status, 201);
  }
  WatchStream w(server_->port(),
                "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1");
  ASSERT_EQ(w.status(), 200);
  ObjectPtr e = w.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(Str(e, "type"), "ERROR");
  EXPECT_EQ(json::GetInt(e, "object.code").value_or(0), 410);
  EXPECT_FALSE(w.Next());  // and the stream ends
}

// --- patches ------------------------------------------------------------------------------------

TEST_F(ApiHandlerTest, PatchKinds) {
  ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("p")).status, 201);
  const std::string url = "/api/v1/namespaces/default/configmaps/p";

  Reply merge = Do("PATCH", url, R"({"data":{"a":"1","k":null}})", "application/merge-patch+json");
  ASSERT_EQ(merge.status, 200) << merge.body;
  EXPECT_EQ(Str(merge.json, "data.a"), "1");
  EXPECT_EQ(Str(merge.json, "data.k"), "<missing>");

  Reply jp = Do("PATCH", url, R"([{"op":"replace","path":"/data/a","value":"2"}])",
                "application/json-patch+json");
  ASSERT_EQ(jp.status, 200) << jp.body;
  EXPECT_EQ(Str(jp.json, "data.a"), "2");

  Reply failed_test = Do("PATCH", url, R"([{"op":"test","path":"/data/a","value":"nope"}])",
                         "application/json-patch+json");
  EXPECT_EQ(failed_test.status, 422);

  Reply smp = Do("PATCH", url, R"({"metadata":{"labels":{"x":"y"}}})",
                 "application/strategic-merge-patch+json");
  ASSERT_EQ(smp.status, 200) << smp.body;
  EXPECT_EQ(Str(smp.json, "metadata.labels.x"), "y");
  EXPECT_EQ(Str(smp.json, "data.a"), "2");

  Reply stale = Do("PATCH", url, R"({"metadata":{"resourceVersion":"1"},"data":{"a":"3"}})",
                   "application/merge-patch+json");
  EXPECT_EQ(stale.status, 409);
  std::string rv = Str(smp.json, "metadata.resourceVersion");
  Reply fresh =
      Do("PATCH", url, R"({"metadata":{"resourceVersion":")" + rv + R"("},"data":{"a":"3"}})",
         "application/merge-patch+json");
  EXPECT_EQ(fresh.status, 200) << fresh.body;

  EXPECT_EQ(Do("PATCH", url, "{bad", "application/merge-patch+json").status, 400);
  EXPECT_EQ(Do("PATCH", url, "{}", "text/plain").status, 415);
  EXPECT_EQ(Do("PATCH", "/api/v1/namespaces/default/configmaps/absent", "{}",
               "application/merge-patch+json")
                .status,
            404);
  Reply after = Do("GET", url);
  EXPECT_EQ(Str(after.json, "data.a"), "3");
  // managedFields record the writers.
  EXPECT_NE(json::Stringify(after.json->get("metadata")).find("unit-test"), std::string::npos);
}

TEST_F(ApiHandlerTest, ServerSideApplyConflictsAndForce) {
  const std::string url = "/api/v1/namespaces/default/configmaps/ssa";
  const std::string body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},)"
                           R"("data":{"k":"one"}})";
  Reply no_manager = Do("PATCH", url, body, "application/apply-patch+yaml");
  EXPECT_EQ(no_manager.status, 422);

  Reply created = Do("PATCH", url + "?fieldManager=alpha", body, "application/apply-patch+yaml");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Str(created.json, "data.k"), "one");

  Reply same = Do("PATCH", url + "?fieldManager=alpha",
                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: two\n",
                  "application/apply-patch+yaml");
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(Str(same.json, "data.k"), "two");

  const std::string other = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},)"
                            R"("data":{"k":"three"}})";
  Reply conflict = Do("PATCH", url + "?fieldManager=beta", other, "application/apply-patch+yaml");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(Str(conflict.json, "reason"), "Conflict");
  Reply forced =
      Do("PATCH", url + "?fieldManager=beta&force=true", other, "application/apply-patch+yaml");
  ASSERT_EQ(forced.status, 200) << forced.body;
  EXPECT_EQ(Str(forced.json, "data.k"), "three");

  // A merge patch by another manager takes the field; alpha's apply then conflicts.
  ASSERT_EQ(
      Do("PATCH", url + "?fieldManager=alpha&force=true", body, "application/apply-patch+yaml")
          .status,
      200);
  ASSERT_EQ(Do("PATCH", url + "?fieldManager=kubectl-patch", R"({"data":{"k":"patched"}})",
               "application/merge-patch+json")
                .status,
            200);
  EXPECT_EQ(Do("PATCH", url + "?fieldManager=alpha", body, "application/apply-patch+yaml").status,
            409);

  Reply mismatch = Do("PATCH", url + "?fieldManager=alpha",
                      R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"ssa"}})",
                      "application/apply-patch+yaml");
  EXPECT_EQ(mismatch.status, 400);
}

// --- subresources -------------------------------------------------------------------------------

TEST_F(ApiHandlerTest, ScaleAndStatusSubresources) {
  Reply created = Do("POST", "/apis/apps/v1/namespaces/default/deployments", Deployment("web", 2));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string url = "/apis/apps/v1/namespaces/default/deployments/web";

  Reply scale = Do("GET", url + "/scale");
  ASSERT_EQ(scale.status, 200) << scale.body;
  EXPECT_EQ(Str(scale.json, "kind"), "Scale");
  EXPECT_EQ(json::GetInt(scale.json, "spec.replicas").value_or(-1), 2);
  EXPECT_EQ(Str(scale.json, "status.selector"), "app=web");

  Reply scaled =
      Do("PATCH", url + "/scale", R"({"spec":{"replicas":5}})", "application/merge-patch+json");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  EXPECT_EQ(json::GetInt(scaled.json, "spec.replicas").value_or(-1), 5);
  EXPECT_EQ(json::GetInt(Do("GET", url).json, "spec.replicas").value_or(-1), 5);

  // The main resource ignores status; the status subresource changes only status.
  Reply main = Do("PATCH", url, R"({"status":{"replicas":7}})", "application/merge-patch+json");
  ASSERT_EQ(main.status, 200);
  EXPECT_NE(json::GetInt(main.json, "status.replicas").value_or(-1), 7);
  Reply status = Do("PATCH", url + "/status", R"({"status":{"replicas":7},"spec":{"replicas":1}})",
                    "application/merge-patch+json");
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(json::GetInt(status.json, "status.replicas").value_or(-1), 7);
  EXPECT_EQ(json::GetInt(status.json, "spec.replicas").value_or(-1), 5);

  EXPECT_EQ(Do("GET", "/api/v1/namespaces/default/configmaps/x/scale").status, 404);
}

// --- custom resources ---------------------------------------------------------------------------

TEST_F(ApiHandlerTest, CrdRegistersAndValidatesCustomResources) {
  EXPECT_EQ(Do("GET", "/apis/example.com/v1").status, 404);
  Reply crd = Do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kCrd);
  ASSERT_EQ(crd.status, 201) << crd.body;
  std::string conditions = json::Stringify(json::GetArray(crd.json, "status.conditions"));
  EXPECT_NE(conditions.find("Established"), std::string::npos);
  EXPECT_EQ(json::Stringify(json::GetArray(crd.json, "status.storedVersions")), R"(["v1"])");

  Reply disc = Do("GET", "/apis/example.com/v1");
  ASSERT_EQ(disc.status, 200);
  ASSERT_TRUE(FindResource(disc.json, "widgets"));
  EXPECT_TRUE(FindResource(disc.json, "widgets/status"));
  Reply group = Do("GET", "/apis");
  EXPECT_NE(json::Stringify(group.json).find("example.com/v1"), std::string::npos);

  const std::string base = "/apis/example.com/v1/namespaces/default/widgets";
  Reply bad_type = Do("POST", base,
                      R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},)"
                      R"("spec":{"size":"big"}})");
  EXPECT_EQ(bad_type.status, 422) << bad_type.body;
  EXPECT_NE(json::Stringify(bad_type.json->get("details")).find("spec.size"), std::string::npos);
  Reply missing = Do("POST", base,
                     R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},)"
                     R"("spec":{}})");
  EXPECT_EQ(missing.status, 422);
  Reply bad_enum = Do("POST", base,
                      R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},)"
                      R"("spec":{"size":1,"color":"green"}})");
  EXPECT_EQ(bad_enum.status, 422);

  const std::string unknown =
      R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},)"
      R"("spec":{"size":1,"extra":true}})";
  Reply strict = Do("POST", base + "?fieldValidation=Strict", unknown);
  EXPECT_EQ(strict.status, 400);
  EXPECT_NE(Str(strict.json, "message").find("strict decoding error: unknown field"),
            std::string::npos);
  Reply warned = Do("POST", base + "?fieldValidation=Warn", unknown);
  ASSERT_EQ(warned.status, 201) << warned.body;
  EXPECT_EQ(Str(warned.json, "spec.extra"), "<missing>");
  EXPECT_FALSE(json::GetBool(warned.json, "spec.extra").has_value());  // pruned
  ASSERT_EQ(warned.warnings.size(), 1u);
  EXPECT_NE(warned.warnings[0].find("unknown field \\\"spec.extra\\\""), std::string::npos)
      << warned.warnings[0];

  Reply smp =
      Do("PATCH", base + "/w", R"({"spec":{"size":2}})", "application/strategic-merge-patch+json");
  EXPECT_EQ(smp.status, 415);
  EXPECT_EQ(Str(smp.json, "reason"), "UnsupportedMediaType");
  Reply merge =
      Do("PATCH", base + "/w", R"({"spec":{"size":"x"}})", "application/merge-patch+json");
  EXPECT_EQ(merge.status, 422);

  // Stored once, served in every version.
  Reply beta = Do("GET", "/apis/example.com/v1beta1/namespaces/default/widgets/w");
  ASSERT_EQ(beta.status, 200);
  EXPECT_EQ(Str(beta.json, "apiVersion"), "example.com/v1beta1");
  Reply v1 = Do("GET", base + "/w");
  EXPECT_EQ(Str(v1.json, "apiVersion"), "example.com/v1");

  Reply table = Do("GET", base, "", "", "application/json;as=Table;v=v1;g=meta.k8s.io");
  ASSERT_EQ(table.status, 200);
  EXPECT_EQ(Str(table.json, "kind"), "Table");
  std::string defs = json::Stringify(table.json->get("columnDefinitions"));
  EXPECT_NE(defs.find("\"Size\""), std::string::npos);
  ObjectPtr row = json::AsObject(json::GetArray(table.json, "rows")->get(0));
  EXPECT_EQ(json::Stringify(row->get("cells")), R"(["w",1])");

  EXPECT_EQ(Do("DELETE",
               "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
               "widgets.example.com")
                .status,
            200);
  EXPECT_EQ(Do("GET", "/apis/example.com/v1").status, 404);
  EXPECT_EQ(Do("GET", base + "/w").status, 404);
  // Re-creating the CRD does not bring old objects back.
  ASSERT_EQ(Do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kCrd).status,
            201);
  EXPECT_EQ(Do("GET", base + "/w").status, 404);
}

TEST_F(ApiHandlerTest, CrdWithBadNameIsInvalid) {
  std::string crd = kCrd;
  crd.replace(crd.find("widgets.example.com"), 19, "gadgets.example.com");
  Reply r = Do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Do("GET", "/apis/example.com/v1").status, 404);
}

// --- tables -------------------------------------------------------------------------------------

TEST_F(ApiHandlerTest, TablesForKubectlGet) {
  ASSERT_EQ(Do("POST", "/apis/apps/v1/namespaces/default/deployments", Deployment("web", 3)).status,
            201);
  const std::string accept =
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
      "g=meta.k8s.io,application/json";
  Reply t = Do("GET", "/apis/apps/v1/namespaces/default/deployments", "", "", accept);
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(Str(t.json, "kind"), "Table");
  EXPECT_EQ(Str(t.json, "apiVersion"), "meta.k8s.io/v1");
  std::string defs = json::Stringify(t.json->get("columnDefinitions"));
  for (const char* col : {"\"Name\"", "\"Ready\"", "\"Up-to-date\"", "\"Available\"", "\"Age\""}) {
    EXPECT_NE(defs.find(col), std::string::npos) << col;
  }
  json::ArrayPtr rows = json::GetArray(t.json, "rows");
  ASSERT_EQ(rows->size(), 1u);
  ObjectPtr row = json::AsObject(rows->get(0));
  EXPECT_EQ(json::AsArray(row->get("cells"))->get(0).convert<std::string>(), "web");
  EXPECT_EQ(json::AsArray(row->get("cells"))->get(1).convert<std::string>().substr(2), "3");
  EXPECT_EQ(Str(row, "object.kind"), "PartialObjectMetadata");
  EXPECT_EQ(Str(row, "object.metadata.name"), "web");
  EXPECT_EQ(Str(row, "object.spec.replicas"), "<missing>");

  Reply full = Do("GET", "/apis/apps/v1/namespaces/default/deployments/web?includeObject=Object",
                  "", "", accept);
  ASSERT_EQ(full.status, 200);
  ObjectPtr obj = json::AsObject(json::GetArray(full.json, "rows")->get(0));
  EXPECT_EQ(Str(obj, "object.kind"), "Deployment");
  EXPECT_EQ(json::GetInt(obj, "object.spec.replicas").value_or(-1), 3);

  Reply plain = Do("GET", "/apis/apps/v1/namespaces/default/deployments/web");
  EXPECT_EQ(Str(plain.json, "kind"), "Deployment");

  Reply ns = Do("GET", "/api/v1/namespaces", "", "", accept);
  EXPECT_NE(json::Stringify(ns.json->get("columnDefinitions")).find("\"Status\""),
            std::string::npos);
}

TEST(HumanDurationTest, MatchesTheApiserver) {
  EXPECT_EQ(table::HumanDuration(5), "5s");
  EXPECT_EQ(table::HumanDuration(119), "119s");
  EXPECT_EQ(table::HumanDuration(150), "2m30s");
  EXPECT_EQ(table::HumanDuration(45 * 60), "45m");
  EXPECT_EQ(table::HumanDuration(5 * 3600 + 120), "5h2m");
  EXPECT_EQ(table::HumanDuration(30 * 3600), "30h");
  EXPECT_EQ(table::HumanDuration(3 * 86400 + 3600), "3d1h");
  EXPECT_EQ(table::HumanDuration(100 * 86400), "100d");
  EXPECT_EQ(table::HumanDuration(-5), "<invalid>");
}

// --- watches ------------------------------------------------------------------------------------

TEST_F(ApiHandlerTest, WatchWithInitialEventsAndBookmark) {
  ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("a")).status, 201);
  ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("b")).status, 201);
  WatchStream w(server_->port(),
                "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&"
                "resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5");
  ASSERT_EQ(w.status(), 200);
  ObjectPtr e1 = w.Next(), e2 = w.Next(), bm = w.Next();
  ASSERT_TRUE(e1 && e2 && bm);
  EXPECT_EQ(Str(e1, "type"), "ADDED");
  EXPECT_EQ(Str(e1, "object.metadata.name"), "a");
  EXPECT_EQ(Str(e1, "object.kind"), "ConfigMap");
  EXPECT_EQ(Str(e2, "object.metadata.name"), "b");
  EXPECT_EQ(Str(bm, "type"), "BOOKMARK");
  EXPECT_EQ(Str(bm, "object.kind"), "ConfigMap");
  EXPECT_EQ(Str(bm, "object.apiVersion"), "v1");
  ObjectPtr annotations = json::GetObject(bm, "object.metadata.annotations");
  ASSERT_TRUE(annotations);
  EXPECT_EQ(annotations->getValue<std::string>("k8s.io/initial-events-end"), "true");
  EXPECT_NE(Str(bm, "object.metadata.resourceVersion"), "<missing>");

  ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("c")).status, 201);
  ObjectPtr e3 = w.Next();
  ASSERT_TRUE(e3);
  EXPECT_EQ(Str(e3, "type"), "ADDED");
  EXPECT_EQ(Str(e3, "object.metadata.name"), "c");
  ASSERT_EQ(Do("DELETE", "/api/v1/namespaces/default/configmaps/a").status, 200);
  ObjectPtr e4 = w.Next();
  ASSERT_TRUE(e4);
  EXPECT_EQ(Str(e4, "type"), "DELETED");
  EXPECT_EQ(Str(e4, "object.metadata.name"), "a");
}

TEST_F(ApiHandlerTest, WatchFromResourceVersionReplaysAndFiltersByName) {
  Reply a = Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("a"));
  std::string rv = Str(a.json, "metadata.resourceVersion");
  ASSERT_EQ(Do("PATCH", "/api/v1/namespaces/default/configmaps/a", R"({"data":{"x":"1"}})",
               "application/merge-patch+json")
                .status,
            200);
  ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("b")).status, 201);
  WatchStream w(server_->port(), "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" +
                                     rv + "&fieldSelector=metadata.name%3Da&timeoutSeconds=1");
  ObjectPtr e = w.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(Str(e, "type"), "MODIFIED");
  EXPECT_EQ(Str(e, "object.data.x"), "1");
  // b is filtered out; the stream ends at the timeout.
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(w.Next());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST_F(ApiHandlerTest, ShutdownEndsOpenWatches) {
  auto ended = std::async(std::launch::async, [&] {
    WatchStream w(server_->port(), "/api/v1/namespaces/default/configmaps?watch=true");
    while (w.Next()) {
    }
    return true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  api_->Shutdown();
  ASSERT_EQ(ended.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(ApiHandlerTest, WatchTableEventsForKubectlGetWatch) {
  ASSERT_EQ(Do("POST", "/api/v1/namespaces/default/configmaps", ConfigMap("t")).status, 201);
  Poco::Net::HTTPClientSession session("127.0.0.1", server_->port());
  Poco::Net::HTTPRequest req("GET",
                             "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1",
                             Poco::Net::HTTPMessage::HTTP_1_1);
  req.set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io");
  session.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  std::istream& in = session.receiveResponse(resp);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto event = json::ParseObject(line);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(Str(event.value(), "type"), "ADDED");  // no resourceVersion: current state first
  EXPECT_EQ(Str(event.value(), "object.kind"), "Table");
}

}  // namespace
}  // namespace sandbox
