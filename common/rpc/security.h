// RPC security (docs/RELIABILITY.md, "Security"): bearer tokens, TLS and the
// loopback-only binding rule, for every braid gRPC server and client.
//
// Token: `--token-file FILE` (or env BRAID_TOKEN_FILE), else env BRAID_TOKEN.
// Clients send `authorization: Bearer <token>` on every call; servers
// refuse calls without it with UNAUTHENTICATED (grpc.health.v1.Health is
// exempt), comparing the SHA-256 of both tokens in constant time.
// TLS: a server with a certificate and key serves TLS (and verifies client
// certificates against the CA when one is given and the client presents
// one); a client with a CA dials TLS (presenting its certificate and key as
// a client certificate when it has them).
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/security/server_credentials.h>

#include <functional>
#include <memory>
#include <string>

#include "common/base/status.h"

namespace braid::rpc {

struct RpcSecurity {
  std::string token;                      // "" = no token (clients send none, servers check none)
  std::string tls_cert, tls_key, tls_ca;  // PEM file paths ("" = unset)
  std::string cert_pem, key_pem, ca_pem;  // their contents, read by LoadSecurity
  bool insecure_listen = false;           // allow plaintext on a non-loopback --listen

  bool server_tls() const { return !cert_pem.empty() && !key_pem.empty(); }
  bool client_tls() const { return !ca_pem.empty(); }
};

// The token from `token_file` when set (trailing "\r\n" and whitespace
// trimmed), else from env BRAID_TOKEN (trimmed the same way), else "".
// InvalidArgument naming the file when it cannot be read or is empty, and
// when the token has characters gRPC metadata cannot carry (outside
// printable ASCII).
StatusOr<std::string> LoadToken(const std::string& token_file);

// Fills s->token (LoadToken(token_file)) and reads the PEM files s->tls_cert,
// s->tls_key and s->tls_ca into cert_pem, key_pem and ca_pem.
// InvalidArgument naming the flag and file when a file cannot be read or is
// empty, or when only one of --tls-cert and --tls-key is given.
Status LoadSecurity(const std::string& token_file, RpcSecurity* s);

// True when the SHA-256 digests of a and b are equal, compared in constant
// time (so neither the content nor the length of the expected token leaks
// through timing).
bool TokensEqual(const std::string& a, const std::string& b);

// 127.0.0.0/8, ::1 (bracketed or not) and "localhost".
bool IsLoopbackHost(const std::string& host);

// A channel to `address` ("HOST:PORT"): TLS verified against s.ca_pem when
// set (with s's certificate as the client certificate when it has one and a
// key), else plaintext; with s.token, every call carries
// `authorization: Bearer <token>`. max_receive_bytes > 0 raises (or lowers)
// gRPC's 4 MiB default limit on received messages.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address, const RpcSecurity& s,
                                           int max_receive_bytes = -1);

// Called with the full method name of every call the token check refuses.
using AuthFailureObserver = std::function<void(const std::string& method)>;

// Server credentials for `s`: TLS when s.server_tls() (client certificates
// requested and, when presented, verified against s.ca_pem), else
// plaintext; with s.token a check that refuses calls without
// `authorization: Bearer <s.token>` with UNAUTHENTICATED (except
// /grpc.health.v1.Health/*), calling on_failure for each.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const RpcSecurity& s,
                                                               AuthFailureObserver on_failure = nullptr);

// The security this process's clients use by default (set once at start-up,
// e.g. by AddProcessFlags's parse step or the CLI's main, before any
// channel is made; empty = plaintext, no token).
void SetProcessSecurity(const RpcSecurity& s);
const RpcSecurity& ProcessSecurity();

}  // namespace braid::rpc
