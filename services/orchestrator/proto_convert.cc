#include "services/orchestrator/proto_convert.h"

namespace braid::orchestrator {

void ToProto(const Layout& layout, braid::v1::JobLayout* out) {
  out->clear_modules();
  for (Role r : kRoles) {
    braid::v1::ModuleLayout* m = out->add_modules();
    m->set_module(static_cast<braid::v1::Module>(r));
    m->set_dp(static_cast<uint32_t>(layout.of(r).dp));
    m->set_tp(static_cast<uint32_t>(layout.of(r).tp));
    m->set_pp(static_cast<uint32_t>(layout.of(r).pp));
    for (int n : layout.of(r).layers) m->add_layers(static_cast<uint32_t>(n));
  }
}

void ToProto(const Job& job, braid::v1::Job* out) {
  out->set_id(job.id);
  out->set_name(job.name);
  out->set_state(static_cast<braid::v1::JobState>(job.state));
  out->set_reason(job.reason);
  ToProto(job.layout, out->mutable_layout());
  out->set_step(job.step);
  out->set_total_steps(job.total_steps);
  if (job.has_last) {
    braid::v1::StepMetrics* m = out->mutable_last();
    m->set_step(job.last.step);
    m->set_loss(job.last.loss);
    m->set_text_loss(job.last.text_loss);
    m->set_gen_loss(job.last.gen_loss);
    m->set_tokens(job.last.tokens);
    m->set_samples(job.last.samples);
    m->set_step_seconds(job.last.step_seconds);
    m->set_tokens_per_second(job.last.tokens_per_second);
  }
  out->set_run_dir(job.run_dir);
  out->set_submitted_unix(job.submitted_unix);
  out->set_started_unix(job.started_unix);
  out->set_finished_unix(job.finished_unix);
  for (const ModuleTimeline& t : job.timeline) {
    braid::v1::ModuleTimeline* p = out->add_timeline();
    p->set_module(static_cast<braid::v1::Module>(t.module));
    p->set_compute_seconds(t.compute_seconds);
    p->set_communication_seconds(t.communication_seconds);
    p->set_exposed_communication_seconds(t.exposed_communication_seconds);
    p->set_bubble_seconds(t.bubble_seconds);
    p->set_messages(t.messages);
  }
  out->set_eta_seconds(job.eta_seconds);
  out->set_attempt(job.attempt);
  out->set_restarts(job.restarts);
  out->set_max_restarts(job.max_restarts);
  for (const JobHistoryEvent& e : job.history) {
    braid::v1::JobHistoryEvent* p = out->add_history();
    p->set_unix(e.unix);
    p->set_text(e.text);
  }
}

void ToProto(const Assignment& a, braid::v1::Assignment* out) {
  out->set_job_id(a.job_id);
  out->set_job_yaml(a.job_yaml);
  out->set_role(static_cast<braid::v1::Module>(a.role));
  out->set_rank(a.rank);
  ToProto(a.layout, out->mutable_layout());
  out->set_reorderer_address(a.reorderer_address);
  out->set_rendezvous_prefix(a.rendezvous_prefix);
  out->set_run_dir(a.run_dir);
  out->set_start_step(a.start_step);
  out->set_attempt(a.attempt);
  out->set_resume_checkpoint(a.resume_checkpoint);
}

WorkerRegistration FromProto(const braid::v1::RegisterWorkerRequest& req) {
  WorkerRegistration r;
  r.role = static_cast<Role>(req.role());
  r.host = req.host();
  r.pid = req.pid();
  r.protocol_version = req.protocol_version();
  r.device = req.capabilities().device();
  r.device_index = req.capabilities().device_index();
  r.threads = req.capabilities().threads();
  r.name = req.name();
  return r;
}

StepReport FromProto(const braid::v1::ReportStepRequest& req) {
  StepReport r;
  r.worker_id = req.worker_id();
  r.job_id = req.job_id();
  r.step = req.step();
  r.role = static_cast<Role>(req.role());
  r.rank = req.rank();
  r.text_loss_sum = req.text_loss_sum();
  r.gen_loss_sum = req.gen_loss_sum();
  r.global_text_targets = req.global_text_targets();
  r.global_gen_targets = req.global_gen_targets();
  r.tokens = req.tokens();
  r.images = req.images();
  r.sample_ids.assign(req.sample_ids().begin(), req.sample_ids().end());
  r.step_seconds = req.step_seconds();
  for (const braid::v1::Span& s : req.spans())
    r.spans.push_back({static_cast<SpanKind>(s.kind()), s.microbatch(), s.start_seconds(), s.seconds()});
  r.grad_norm = req.grad_norm();
  r.lr = req.lr();
  r.wrote_checkpoint = req.wrote_checkpoint();
  r.step_start_unix = req.step_start_unix();
  r.transfer_seconds_min = req.transfer_seconds_min();
  r.transfer_seconds_max = req.transfer_seconds_max();
  r.messages = req.messages();
  r.plan_solve_ms = req.plan_solve_ms();
  r.plan_imbalance.assign(req.plan_imbalance().begin(), req.plan_imbalance().end());
  r.attempt = req.attempt();
  return r;
}

}  // namespace braid::orchestrator
