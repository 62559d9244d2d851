// Audit lines for admin and trainer actions: a server interceptor that writes one line per call of
// the audited services (medgemma-server's AdapterAdmin, medgemma-trainer's Trainer) when the call
// is answered:
//   {"ts":...,"event":"action","method":"/medgemma.v1.AdapterAdmin/LoadAdapter","caller":"ops-alice",
//    "peer":"ipv4:10.0.0.7:51234","code":"OK","latency_ms":812.0,"request":{"name":"a1","path":"..."}}
// The caller is the bearer token's name, looked up through the TokenAuthorizer (never the token);
// the request is the message as JSON, cut at 2 KiB (these services carry names, paths and
// hyperparameters, never images). Classification requests are audited by their services instead,
// with their results.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "base/audit_log.h"
#include "rpc/auth.h"

namespace medgemma::rpc {

struct ActionAudit {
  AuditLog* log = nullptr;  // null or disabled: no interceptor
  const TokenAuthorizer* auth = nullptr;
  std::vector<std::string> services;  // full names, e.g. "medgemma.v1.AdapterAdmin"
};

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeActionAuditFactory(ActionAudit audit);

}  // namespace medgemma::rpc
