// How the API's messages go on the wire where protobuf's default is not enough. protoc's gRPC plugin
// includes this file in every generated *.grpc.pb.h (additional_header_includes, rpc/CMakeLists.txt),
// so each specialization is seen before any use of the type's SerializationTraits.
//
// Every request type that a method reads from a client stream goes here, so a request on the stream
// that does not parse is answered INVALID_ARGUMENT instead of silently ending the stream
// (rpc/unparsed_request.h). Types read only as a call's single request need nothing.
#pragma once

#include "medgemma/v1/classifier.pb.h"
#include "rpc/unparsed_request.h"

namespace grpc {

// Classifier.ClassifyStream
template <>
class SerializationTraits<medgemma::v1::ClassifyRequest>
    : public medgemma::rpc::StrictRequestTraits<medgemma::v1::ClassifyRequest> {};

}  // namespace grpc
