#include "client/health_command.h"

#include <absl/strings/str_cat.h>

#include <iostream>

#include "base/status_macros.h"
#include "client/connection.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rpc/grpc_status.h"

namespace medgemma::cli {

absl::Status Health(const std::vector<std::string>& argv) {
  static const FlagSet flags = FlagSet("medgemma-cli health --server HOST:PORT [flags]",
                                       {{"service", "NAME", "service to ask about (default: the whole server)"},
                                        {"timeout-seconds", "N", "give up after N seconds (default 5)"}})
                                   .Add(ConnectionFlags("server"));
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  MG_ASSIGN_OR_RETURN(const int64_t timeout, args.GetInt("timeout-seconds", 5));
  MG_ASSIGN_OR_RETURN(Connection connection, Connect(args, "server"));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(args.Get("service"));
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout));
  MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(
      grpc::health::v1::Health::NewStub(connection.channel)->Check(&context, request, &response)));
  const std::string status = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  std::cout << status << "\n";
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(args.Get("server"), " answers ", status));
  }
  return absl::OkStatus();
}

}  // namespace medgemma::cli
