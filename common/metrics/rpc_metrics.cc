#include "common/metrics/rpc_metrics.h"

#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>

namespace braid {

std::string GrpcCodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  if (code >= 0 && code < int(sizeof kNames / sizeof kNames[0])) return kNames[code];
  return "CODE_" + std::to_string(code);
}

namespace {

using grpc::experimental::InterceptionHookPoints;

prometheus::Family<prometheus::Counter>& RequestsFamily(prometheus::Registry& registry) {
  // Registering the same name again returns the same family (Registry's Merge behaviour).
  return prometheus::BuildCounter()
      .Name("braid_rpc_requests_total")
      .Help("gRPC requests served, by full method name and status code")
      .Register(registry);
}

class CountingInterceptor final : public grpc::experimental::Interceptor {
 public:
  CountingInterceptor(std::string method, prometheus::Family<prometheus::Counter>* family)
      : method_(std::move(method)), family_(family) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS))
      family_->Add({{"method", method_}, {"code", GrpcCodeName(int(methods->GetSendStatus().error_code()))}})
          .Increment();
    methods->Proceed();
  }

 private:
  std::string method_;
  prometheus::Family<prometheus::Counter>* family_;
};

class CountingFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(prometheus::Registry& registry) : family_(&RequestsFamily(registry)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new CountingInterceptor(info->method() ? info->method() : "unknown", family_);
  }

 private:
  prometheus::Family<prometheus::Counter>* family_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetrics(prometheus::Registry& registry) {
  return std::make_unique<CountingFactory>(registry);
}

std::function<void(const std::string& method)> MakeAuthFailureCounter(prometheus::Registry& registry) {
  auto* requests = &RequestsFamily(registry);
  auto* failures = &prometheus::BuildCounter()
                        .Name("braid_auth_failures_total")
                        .Help("gRPC calls refused for a missing or wrong bearer token, by full method name")
                        .Register(registry);
  return [requests, failures](const std::string& method) {
    failures->Add({{"method", method}}).Increment();
    requests->Add({{"method", method}, {"code", GrpcCodeName(int(grpc::StatusCode::UNAUTHENTICATED))}}).Increment();
  };
}

}  // namespace braid
