#include "common/rpc/security.h"

#include <arpa/inet.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/base/log.h"

namespace braid::rpc {
namespace {

constexpr char kBearer[] = "Bearer ";
constexpr char kHealthPrefix[] = "/grpc.health.v1.Health/";

std::string Trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// The whole file, or InvalidArgument "WHAT FILE: cannot read: why".
StatusOr<std::string> ReadFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(what + " " + path + ": cannot read: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(what + " " + path + ": cannot read: " + std::strerror(errno));
  return ss.str();
}

Status CheckTokenChars(const std::string& where, const std::string& token) {
  for (unsigned char c : token)
    if (c < 0x21 || c > 0x7e)
      return Status::InvalidArgument(where + ": the token has a character gRPC metadata cannot carry (only printable "
                                             "ASCII without spaces is allowed)");
  return Status::Ok();
}

// ---- Client side: `authorization: Bearer <token>` on every call. ----

class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA))
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(const std::string& token) : header_(kBearer + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(&header_);
  }

 private:
  const std::string header_;  // the factory lives as long as the channel
};

// ---- Server side: the token check, as gRPC core's auth metadata processor
// (it runs before the call reaches the application, for plaintext and TLS
// ports alike; a refused call never reaches a handler or an interceptor). ----

struct TokenCheck {
  std::string token;
  AuthFailureObserver on_failure;
};

std::string SliceString(const grpc_slice& s) {
  return std::string(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(s)), GRPC_SLICE_LENGTH(s));
}

void ProcessAuthMetadata(void* state, grpc_auth_context*, const grpc_metadata* md, size_t num_md,
                         grpc_process_auth_metadata_done_cb cb, void* user_data) {
  const auto* check = static_cast<const TokenCheck*>(state);
  std::string method = "unknown", authorization;
  const grpc_metadata* auth_md = nullptr;
  for (size_t i = 0; i < num_md; ++i) {
    const std::string key = SliceString(md[i].key);
    if (key == ":path") method = SliceString(md[i].value);
    else if (key == "authorization") {
      authorization = SliceString(md[i].value);
      auth_md = &md[i];
    }
  }
  if (method.rfind(kHealthPrefix, 0) == 0) {  // probes need no token
    cb(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
    return;
  }
  const size_t n = sizeof kBearer - 1;
  const bool bearer = authorization.size() > n && strncasecmp(authorization.c_str(), kBearer, n) == 0;
  if (bearer && TokensEqual(authorization.substr(n), check->token)) {
    cb(user_data, auth_md, 1, nullptr, 0, GRPC_STATUS_OK, nullptr);  // consumed: handlers never see the token
    return;
  }
  if (check->on_failure) check->on_failure(method);
  cb(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_UNAUTHENTICATED,
     bearer ? "invalid bearer token (check --token-file / BRAID_TOKEN)"
            : "no bearer token: this server requires `authorization: Bearer <token>` (--token-file or BRAID_TOKEN)");
}

void DestroyTokenCheck(void* state) { delete static_cast<TokenCheck*>(state); }

// Server credentials over gRPC core's, so that the token check works on
// plaintext ports too (grpc::InsecureServerCredentials() refuses an
// AuthMetadataProcessor).
class BraidServerCredentials final : public grpc::ServerCredentials {
 public:
  BraidServerCredentials(RpcSecurity s, AuthFailureObserver on_failure)
      : s_(std::move(s)), on_failure_(std::move(on_failure)) {}

  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {
    LOG_ERROR("braid server credentials: SetAuthMetadataProcessor is not supported (the token check is built in)");
  }

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    grpc_server_credentials* creds = nullptr;
    if (s_.server_tls()) {
      grpc_ssl_pem_key_cert_pair pair{s_.key_pem.c_str(), s_.cert_pem.c_str()};
      creds = grpc_ssl_server_credentials_create_ex(
          s_.ca_pem.empty() ? nullptr : s_.ca_pem.c_str(), &pair, 1,
          s_.ca_pem.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY,
          nullptr);
    } else {
      creds = grpc_insecure_server_credentials_create();
    }
    if (creds == nullptr) return 0;
    if (!s_.token.empty())
      grpc_server_credentials_set_auth_metadata_processor(
          creds, grpc_auth_metadata_processor{&ProcessAuthMetadata, &DestroyTokenCheck,
                                              new TokenCheck{s_.token, on_failure_}});
    const int port = grpc_server_add_http2_port(server, addr.c_str(), creds);
    grpc_server_credentials_release(creds);
    return port;
  }

  const RpcSecurity s_;
  const AuthFailureObserver on_failure_;
};

RpcSecurity& MutableProcessSecurity() {
  static RpcSecurity s;
  return s;
}

}  // namespace

StatusOr<std::string> LoadToken(const std::string& token_file) {
  if (!token_file.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFile("--token-file", token_file));
    const std::string token = Trim(text);
    if (token.empty()) return Status::InvalidArgument("--token-file " + token_file + ": the file is empty");
    RETURN_IF_ERROR(CheckTokenChars("--token-file " + token_file, token));
    struct stat st {};
    if (stat(token_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
      LOG_WARN("--token-file %s is readable by other users (chmod 600 it)", token_file.c_str());
    return token;
  }
  const char* env = std::getenv("BRAID_TOKEN");
  if (env == nullptr || *env == '\0') return std::string();
  const std::string token = Trim(env);
  if (token.empty()) return Status::InvalidArgument("BRAID_TOKEN is set but blank");
  RETURN_IF_ERROR(CheckTokenChars("BRAID_TOKEN", token));
  return token;
}

Status LoadSecurity(const std::string& token_file, RpcSecurity* s) {
  ASSIGN_OR_RETURN(s->token, LoadToken(token_file));
  if (s->tls_cert.empty() != s->tls_key.empty())
    return Status::InvalidArgument("--tls-cert and --tls-key go together: pass both or neither");
  const struct {
    const char* flag;
    const std::string* path;
    std::string* pem;
  } files[] = {{"--tls-cert", &s->tls_cert, &s->cert_pem},
               {"--tls-key", &s->tls_key, &s->key_pem},
               {"--tls-ca", &s->tls_ca, &s->ca_pem}};
  for (const auto& f : files) {
    f.pem->clear();
    if (f.path->empty()) continue;
    ASSIGN_OR_RETURN(*f.pem, ReadFile(f.flag, *f.path));
    if (f.pem->find("-----BEGIN ") == std::string::npos)
      return Status::InvalidArgument(std::string(f.flag) + " " + *f.path + ": not a PEM file (no -----BEGIN line)");
  }
  return Status::Ok();
}

bool TokensEqual(const std::string& a, const std::string& b) {
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

bool IsLoopbackHost(const std::string& host_in) {
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address, const RpcSecurity& s, int max_receive_bytes) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (s.client_tls()) {
    grpc::SslCredentialsOptions opt;
    opt.pem_root_certs = s.ca_pem;
    if (!s.cert_pem.empty() && !s.key_pem.empty()) {
      opt.pem_cert_chain = s.cert_pem;
      opt.pem_private_key = s.key_pem;
    }
    creds = grpc::SslCredentials(opt);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  if (max_receive_bytes > 0) args.SetMaxReceiveMessageSize(max_receive_bytes);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!s.token.empty()) interceptors.push_back(std::make_unique<TokenInterceptorFactory>(s.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, creds, args, std::move(interceptors));
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const RpcSecurity& s, AuthFailureObserver on_failure) {
  return std::make_shared<BraidServerCredentials>(s, std::move(on_failure));
}

void SetProcessSecurity(const RpcSecurity& s) { MutableProcessSecurity() = s; }
const RpcSecurity& ProcessSecurity() { return MutableProcessSecurity(); }

}  // namespace braid::rpc
