// Admission for built-in kinds: the defaults and server-side fields the apiserver adds on create
// and update, and the validations clients rely on. Called by the API handler just before an
// object is stored; custom resources never pass through here.
//
// - Service: spec.type ClusterIP, a unique spec.clusterIP (and clusterIPs) from 10.96.0.0/12
//   kept across updates ("None" stays headless), ports' protocol TCP and targetPort = port,
//   sessionAffinity None; NodePort/LoadBalancer get nodePorts from 30000-32767.
// - Deployment, StatefulSet, DaemonSet, ReplicaSet, Job: defaults (replicas 1, RollingUpdate
//   strategy 25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600; Job
//   backoffLimit 6, completions/parallelism 1, its selector and controller-uid labels), pod
//   template defaults (restartPolicy, dnsPolicy, terminationGracePeriodSeconds, container
//   imagePullPolicy by tag, terminationMessagePath/Policy); 422 Invalid when spec.selector is
//   missing or does not match the template's labels, or a selector of an apps/v1 workload
//   changes on update (field is immutable).
// - Namespace: label kubernetes.io/metadata.name, spec.finalizers [kubernetes],
//   status.phase Active.
// - Pod: status.phase Pending on create when absent.
// Returns a 422 Invalid (with causes naming the fields) when the object must be refused.
#pragma once

#include "sandbox/api_error.h"
#include "sandbox/json_util.h"
#include "sandbox/store.h"

namespace sandbox {

// obj is changed in place; old is the stored object on update, null on create.
Status Admit(const ResourceRef& ref, const json::ObjectPtr& obj, const json::ObjectPtr& old,
             Store& store);

}  // namespace sandbox
