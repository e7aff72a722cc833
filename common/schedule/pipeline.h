// The cross-module pipeline of one training step as a pure function: given
// each microbatch's stage costs (encoder, LLM, generator; forward and
// backward), the makespan of braid's 1F1B schedule, a lower bound on the
// makespan of any microbatch order, and an ordering that minimises it. The
// planner issue grows this into a full simulator.
//
// The schedule is the runtime's (common/worker/module_runner.cc): microbatch
// m flows encoder F(m) -> LLM F(m) -> generator F+B(m) -> LLM B(m) ->
// encoder B(m). Each stage runs its own operations one at a time in a fixed
// 1F1B order: `w` warm-up forwards (encoder 2, LLM 1, generator 0, capped at
// the number of microbatches), then one forward and one backward
// alternately, then the remaining backwards; the generator's forward and
// backward of a microbatch are one operation. An operation starts when its
// stage is free and its input is ready (transfers take no time).
#pragma once

#include <vector>

namespace braid::schedule {

struct StageCost {
  double fwd = 0, bwd = 0;  // seconds (or any consistent unit), >= 0
};

// One microbatch's cost on each module: for a module with several DP
// ranks, the most loaded rank's (the rank everyone waits for).
struct MicrobatchCost {
  StageCost encoder, llm, generator;
};

// Makespan of the step with microbatches run in the given order (position
// k = the k-th microbatch run): the time the last operation ends, computed
// exactly. Each stage's operation list is fixed, so the operations are
// placed one by one, each time the next one of some stage whose input is
// already placed (the 1F1B orders never deadlock; a stall aborts). 0 for no
// microbatches.
double OneFOneBMakespan(const std::vector<MicrobatchCost>& mbs);

// A lower bound on OneFOneBMakespan over every order of `mbs`
// (docs/REORDER.md gives the formula). 0 for no microbatches.
//
// Notation: for microbatch m, eF/eB its encoder forward/backward, lF/lB its
// LLM forward/backward, g its generator forward + backward; W_enc, W_llm,
// W_gen each stage's total work. In an order, a = p[0], b = p[1],
// c = p[M-2], d = p[M-1]. With M >= 3:
//
//   LB = max( max_m (eF + lF + g + lB + eB)(m),
//             min_{a != d} max( W_enc + SE(a) (+) EE(d),
//                               W_llm + SL(a) + EL(d),
//                               W_gen + SG(a) + EG(d) ) )
//
// where (+) is + for M >= 4 and max for M = 3, and, with min_b over b != a,
// min_c over c != d, and E3(x,y) / F3(x,y) the largest eB / eF of a
// microbatch other than x and y:
//   T1(a,b) = max(eF(a) + lF(a), eF(a) + eF(b)) + lF(b)   LLM F(b) ends
//   T0(a,b) = max(eF(a) + lF(a) + g(a), T1(a,b))           LLM B(a) starts
//   D(c,d)  = max(max(lB(c), g(d)) + lB(d), lB(c) + eB(c)) + eB(d)
//             (from the end of LLM F(d), or of FB(c), to the end)
//   SE(a) = min_b max(0, T0(a,b) + lB(a) - eF(a) - eF(b) - F3(a,b))
//   EE(d) = min_c max(0, lF(d) + max(g(d), lB(c)) + lB(d) - eB(c) - E3(c,d),
//                        lF(d) + lB(c) - E3(c,d))
//   SL(a) = min_b T0(a,b) - lF(a) - lF(b)       EL(d) = min_c D(c,d) - lB(c) - lB(d)
//   SG(a) = min_b S2(a,b) - g(a) - g(b) (M >= 4), min_b T0(a,b) - g(a) (M = 3)
//   S2(a,b) = max(T0 + g(b), T0 + lB(a) + min lF(e), eF(a) + eF(b) + min (eF + lF)(e))
//             (e over the microbatches other than a and b)
//   EG(d) = min_c D(c,d) - g(d)
//
// Why it holds for every order: the makespan is the longest path through
// the operations (edges: a stage's order, and each op's input). The first
// term is one microbatch's chain. A stage ends no earlier than its work plus
// the time it idles plus what must follow its last op; SE / EE are the
// encoder's idle before B(a) (it runs only F(a), F(b), F(p[2]) before B(a),
// which waits for LLM B(a)) and between F(d) and B(d) (only B(p[M-3]),
// B(c) run there, B(d) waits for LLM B(d)); SL is what precedes LLM B(a)
// beyond F(a) and F(b) (head eF(a) included); EL the idle and tail after
// LLM F(d), where only B(c) and B(d) run; SG the time before the
// generator's FB(p[2]) (FB(b) for M = 3) beyond the FBs before it; EG what
// follows the end of FB(c) beyond FB(d). The start and end windows are
// disjoint (for the encoder from M = 4). Each term is minimised over the
// microbatches it names other than a and d, and the whole over a != d,
// so every order is covered. SL >= eF(a), EL >= eB(d), SG >= eF(a) + lF(a)
// and EG >= lB(d) + eB(d), so LB is at least each stage's work plus its
// least head plus its least tail. For M = 2 the windows overlap and each
// stage's start and end shapes count on their own (the generator's on the
// two orders of its two microbatches); for M = 1 LB is the chain, exact.
double MakespanLowerBound(const std::vector<MicrobatchCost>& mbs);

// A permutation p (run mbs[p[0]] first, ...) with a small makespan:
// exhaustive for up to 7 microbatches (std::next_permutation from the
// identity, the first strictly best), otherwise a Johnson-rule start
// improved by local search (swaps and insertions) until no move helps.
// Johnson's rule treats the step as a two-machine flow shop: A = eF + lF
// (what precedes the microbatch's generator op), B = g + lB + eB (the rest);
// microbatches with A <= B first by increasing A, then the others by
// decreasing B, ties in index order. The search starts from the better of
// that and the identity; each pass tries every swap (i < j), then every
// insertion (the microbatch at i moved to j, |i - j| >= 2), keeping a move
// as soon as it lowers the makespan by more than 1e-12 relative (rounding
// noise), until a pass keeps none.
// Deterministic; never worse than the identity order.
std::vector<int> OrderMicrobatches(const std::vector<MicrobatchCost>& mbs);

}  // namespace braid::schedule
