#include "rpc/credentials.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

#include <cstdlib>

#include "base/file_util.h"
#include "base/status_macros.h"

namespace medgemma::rpc {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files) {
  if (files.cert.empty() && files.key.empty()) {
    if (!files.ca.empty()) return absl::InvalidArgumentError("tls.client_ca needs tls.cert and tls.key");
    return grpc::InsecureServerCredentials();
  }
  if (files.cert.empty() || files.key.empty()) return absl::InvalidArgumentError("tls needs both cert and key");
  grpc::SslServerCredentialsOptions options(files.ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                             : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  MG_ASSIGN_OR_RETURN(pair.private_key, ReadFileToString(files.key));
  MG_ASSIGN_OR_RETURN(pair.cert_chain, ReadFileToString(files.cert));
  options.pem_key_cert_pairs.push_back(pair);
  if (!files.ca.empty()) {
    MG_ASSIGN_OR_RETURN(options.pem_root_certs, ReadFileToString(files.ca));
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const TlsFiles& files) {
  if (files.ca.empty() && files.cert.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!files.ca.empty()) {
    MG_ASSIGN_OR_RETURN(options.pem_root_certs, ReadFileToString(files.ca));
  }
  if (!files.cert.empty()) {
    MG_ASSIGN_OR_RETURN(options.pem_cert_chain, ReadFileToString(files.cert));
    MG_ASSIGN_OR_RETURN(options.pem_private_key, ReadFileToString(files.key));
  }
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::string> ReadBearerToken(const std::string& file, const std::string& env_var) {
  if (!file.empty()) {
    MG_ASSIGN_OR_RETURN(std::string token, ReadFileToString(file));
    return std::string(absl::StripAsciiWhitespace(token));
  }
  const char* env = env_var.empty() ? nullptr : std::getenv(env_var.c_str());
  return std::string(env ? env : "");
}

}  // namespace medgemma::rpc
