#include "client/connection.h"

#include <iostream>

#include "base/status_macros.h"
#include "rpc/credentials.h"

namespace medgemma::cli {

std::vector<Flag> ConnectionFlags(const std::string& address_flag) {
  return {{address_flag, "HOST:PORT", "address of medgemma-" + address_flag},
          {"token-file", "FILE", "bearer token file (default: $MEDGEMMA_TOKEN)"},
          {"tls-ca", "FILE", "CA of the service's certificate: connect with TLS"},
          {"tls-cert", "FILE", "client certificate, for mutual TLS"},
          {"tls-key", "FILE", "client key, for mutual TLS"}};
}

absl::StatusOr<Connection> Connect(const Args& args, const std::string& address_flag) {
  MG_ASSIGN_OR_RETURN(std::string address, args.Require(address_flag));
  MG_ASSIGN_OR_RETURN(auto credentials,
                      rpc::MakeChannelCredentials({args.Get("tls-cert"), args.Get("tls-key"), args.Get("tls-ca")}));
  Connection c;
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxSendMessageSize(256 << 20);
  c.channel = grpc::CreateCustomChannel(address, credentials, channel_args);
  MG_ASSIGN_OR_RETURN(c.token, rpc::ReadBearerToken(args.Get("token-file"), "MEDGEMMA_TOKEN"));
  return c;
}

void DrawProgress(size_t done, size_t total, const std::string& suffix) {
  const int width = 40;
  const int filled = total == 0 ? width : static_cast<int>(width * done / total);
  std::cerr << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ') << "] " << done << "/" << total
            << suffix << (done == total ? "\n" : "") << std::flush;
}

}  // namespace medgemma::cli
