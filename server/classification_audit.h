// The audit line of one classification request, written where the request is answered (the
// service edge), once per request whatever its outcome: refused, invalid or classified.
//   {"ts":...,"event":"classify","api":"inference.ModelInfer","request_id":"r7","caller":"pacs-router",
//    "code":"OK","adapter":"","latency_ms":12.5,"images":2,
//    "results":[{"label":3,"label_name":"benign_tubular_adenoma","confidence":0.41,"adapter_version":""},...]}
// "caller" is the bearer token's name (never its value; "anonymous" with auth off, "" when refused).
// No pixel data, no image bytes.
#pragma once

#include <absl/status/status.h>

#include <string>
#include <vector>

#include "base/audit_log.h"
#include "medgemma/v1/classifier.pb.h"
#include "server/classification_pipeline.h"

namespace medgemma::server {

struct AuditedCall {
  std::string api;  // "medgemma.v1.Classify", "inference.ModelInfer", "POST /v1/classify", ...
  std::string request_id;
  std::string caller;
  std::string adapter;  // as requested ("" the default)
  Clock::time_point start = Clock::now();
};

void AuditClassification(AuditLog& log, const AuditedCall& call, const absl::Status& status,
                         const std::vector<v1::ClassifyResponse>& answers);

}  // namespace medgemma::server
