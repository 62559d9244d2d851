#include "server/classification_audit.h"

#include <absl/strings/str_cat.h>
#include <cctype>

namespace medgemma::server {
namespace {
std::string ResultJson(const v1::ClassifyResponse& r) {
  std::string json = absl::StrCat("{\"label\":", r.label(), ",\"label_name\":", JsonQuote(r.label_name()),
                                  ",\"confidence\":", r.confidence(), ",\"adapter_version\":", JsonQuote(r.adapter_version()));
  if (r.has_dicom()) {
    absl::StrAppend(&json, ",\"study_instance_uid\":", JsonQuote(r.dicom().study_instance_uid()),
                    ",\"series_instance_uid\":", JsonQuote(r.dicom().series_instance_uid()),
                    ",\"sop_instance_uid\":", JsonQuote(r.dicom().sop_instance_uid()), ",\"frame\":", r.dicom().frame());
  }
  return json + "}";
}
}  // namespace

void AuditClassification(AuditLog& log, const AuditedCall& call, const absl::Status& status,
                         const std::vector<v1::ClassifyResponse>& answers) {
  if (!log.enabled()) return;
  std::string results = "[";
  for (size_t i = 0; i < answers.size(); ++i) absl::StrAppend(&results, i ? "," : "", ResultJson(answers[i]));
  results += "]";
  std::string code = absl::StatusCodeToString(status.code());
  for (char& c : code) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::vector<LogField> fields = {{"api", call.api},
                                  {"request_id", call.request_id},
                                  {"caller", call.caller},
                                  {"code", code},
                                  {"adapter", call.adapter},
                                  {"latency_ms", std::chrono::duration<double, std::milli>(Clock::now() - call.start).count()},
                                  {"images", static_cast<int64_t>(answers.size())},
                                  LogField::Json("results", std::move(results))};
  if (!status.ok()) fields.emplace_back("error", status.message());
  log.Write("classify", fields);
}

}  // namespace medgemma::server
