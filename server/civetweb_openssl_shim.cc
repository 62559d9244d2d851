// What Debian's civetweb 1.15 looks up in OpenSSL 3 and does not find. It loads OpenSSL at run time
// by the names "libssl.so" and "libcrypto.so" (the -dev symlinks, absent from a runtime image) and
// takes SSL_get_peer_certificate, which OpenSSL 3 exports only as SSL_get1_peer_certificate: the
// pointer stays null and every HTTPS connection crashes the server (civetweb issue #1334). This
// file is built twice, as libraries with the sonames "libssl.so" and "libcrypto.so" that depend on
// the real ones; HttpEndpoint loads them before civetweb initializes TLS, so that civetweb's
// dlopen finds them (by soname) and its lookups resolve.
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

extern "C" __attribute__((visibility("default"))) X509* SSL_get_peer_certificate(const SSL* ssl) {
  return SSL_get1_peer_certificate(ssl);  // what 1.1's function did: a new reference, freed by the caller
}
