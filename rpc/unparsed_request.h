// Requests whose bytes do not parse as the method's request message. gRPC answers them badly on
// its own: the callback API UNIMPLEMENTED with no message, the sync API INTERNAL with no message,
// and a stream read simply ends, as if the client had half-closed, so the call finishes OK. The
// interceptor made here answers all of them INVALID_ARGUMENT, "the request is not a valid
// medgemma.v1.ClassifyRequest message".
//
// A unary or server-streaming call that reached the interceptor without its request failed to
// parse: that needs nothing more. Inside a client stream a failed read looks like the end of the
// stream, so the request types read from streams deserialize through StrictRequestTraits, which
// marks a failed parse for the interceptor (rpc/api_serialization.h lists those types).
#pragma once

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace medgemma::rpc {

namespace internal {
// Set when a strict request fails to parse. gRPC deserializes a received message and runs the
// interceptors' POST_RECV_MESSAGE right after it on the same thread, and the interceptor clears it
// there, so a set flag always belongs to the read being intercepted.
inline thread_local bool t_request_unparsed = false;
}  // namespace internal

// grpc::SerializationTraits for a request message read from a client stream: protobuf's, plus the
// failed-parse mark.
template <class Message>
struct StrictRequestTraits {
  static grpc::Status Serialize(const grpc::protobuf::MessageLite& message, grpc::ByteBuffer* buffer,
                                bool* own_buffer) {
    return grpc::GenericSerialize<grpc::ProtoBufferWriter, Message>(message, buffer, own_buffer);
  }
  static grpc::Status Deserialize(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* message) {
    grpc::Status status = grpc::GenericDeserialize<grpc::ProtoBufferReader, Message>(buffer, message);
    if (!status.ok()) internal::t_request_unparsed = true;
    return status;
  }
};

// Installed first on every service host, so the call logger sees the corrected status.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeUnparsedRequestInterceptorFactory();

}  // namespace medgemma::rpc
