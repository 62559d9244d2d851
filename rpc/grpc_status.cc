#include "rpc/grpc_status.h"

#include <string>

#include "base/utf8.h"

namespace medgemma::rpc {
namespace {
// Messages travel in a trailer; clients refuse metadata over 8 KiB by default and would report
// RESOURCE_EXHAUSTED instead of the real error. Messages that echo a huge name or path are cut.
constexpr size_t kMaxMessageBytes = 1024;
constexpr char kCut[] = "... (cut)";

std::string WireMessage(std::string_view message) {
  if (message.size() <= kMaxMessageBytes) return ToValidUtf8(message);
  // Repair after cutting: a cut through a multi-byte character leaves one U+FFFD, not garbage.
  return ToValidUtf8(message.substr(0, kMaxMessageBytes - sizeof(kCut) + 1)) + kCut;
}
}  // namespace

// absl and gRPC share the canonical code numbering, so the mapping is the identity on codes.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      WireMessage(std::string_view(status.message().data(), status.message().size())));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace medgemma::rpc
