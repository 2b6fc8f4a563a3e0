// LEMON's min-cost flow solvers as a peer of ours (issue 23): reads a DIMACS `.min` file,
// solves it with NetworkSimplex or CostScaling, and prints one JSON line
// {"solve_s": ..., "read_s": ..., "objective": ...}: `solve_s` is the solver's construction
// (its copy of the graph), its maps and run(), `read_s` reading the file into a graph.
//
// Built by benches/peers/run.py with `g++ -O3 -march=native -DNDEBUG` against Debian's
// liblemon-dev (LEMON 1.3.1).
//
//   lemon_mcf network_simplex|cost_scaling FILE.min

#include <lemon/cost_scaling.h>
#include <lemon/network_simplex.h>
#include <lemon/smart_graph.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using Graph = lemon::SmartDigraph;
using Clock = std::chrono::steady_clock;

static double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Solve with LEMON's algorithm `Alg`, timing run() alone; false unless optimal.
template <typename Alg>
static bool run(const Graph &g, const Graph::ArcMap<long long> &lower,
                const Graph::ArcMap<long long> &upper, const Graph::ArcMap<long long> &cost,
                const Graph::NodeMap<long long> &supply, double &solve_s, long long &objective) {
  // The clock starts before the constructor: it copies the graph and mixes the arcs
  // (network simplex) or builds the residual graph (cost scaling), work our `solve_ms`
  // includes too.
  auto s0 = Clock::now();
  Alg alg(g);
  alg.lowerMap(lower).upperMap(upper).costMap(cost).supplyMap(supply);
  auto r = alg.run();
  solve_s = seconds(s0, Clock::now());
  if (r != Alg::OPTIMAL) return false;
  objective = alg.template totalCost<long long>();
  return true;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s network_simplex|cost_scaling FILE.min\n", argv[0]);
    return 2;
  }
  const std::string method = argv[1];
  FILE *f = std::fopen(argv[2], "r");
  if (!f) {
    std::perror(argv[2]);
    return 2;
  }
  auto t0 = Clock::now();
  Graph g;
  std::vector<Graph::Node> nodes;
  Graph::ArcMap<long long> lower(g), upper(g), cost(g);
  Graph::NodeMap<long long> supply(g);
  char line[512];
  long long n = 0, m = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (line[0] == 'p') {
      char kind[16];
      if (std::sscanf(line, "p %15s %lld %lld", kind, &n, &m) != 3) return 2;
      g.reserveNode(n);
      g.reserveArc(m);
      nodes.reserve(n);
      for (long long i = 0; i < n; ++i) nodes.push_back(g.addNode());
      for (long long i = 0; i < n; ++i) supply[nodes[i]] = 0;
    } else if (line[0] == 'n') {
      long long id, s;
      if (std::sscanf(line, "n %lld %lld", &id, &s) != 2 || id < 1 || id > n) return 2;
      supply[nodes[id - 1]] = s;
    } else if (line[0] == 'a') {
      long long u, v, lo, hi, c;
      if (std::sscanf(line, "a %lld %lld %lld %lld %lld", &u, &v, &lo, &hi, &c) != 5 || u < 1 ||
          u > n || v < 1 || v > n)
        return 2;
      Graph::Arc a = g.addArc(nodes[u - 1], nodes[v - 1]);
      lower[a] = lo;
      upper[a] = hi;
      cost[a] = c;
    }
  }
  std::fclose(f);
  if (g.arcNum() != m || n == 0) {
    std::fprintf(stderr, "read %d arcs, the problem line says %lld\n", g.arcNum(), m);
    return 2;
  }
  auto t1 = Clock::now();
  long long objective = 0;
  bool optimal = false;
  double solve_s = 0;
  if (method == "network_simplex") {
    optimal = run<lemon::NetworkSimplex<Graph, long long, long long>>(g, lower, upper, cost, supply,
                                                                      solve_s, objective);
  } else if (method == "cost_scaling") {
    optimal = run<lemon::CostScaling<Graph, long long, long long>>(g, lower, upper, cost, supply,
                                                                   solve_s, objective);
  } else {
    std::fprintf(stderr, "unknown method %s\n", method.c_str());
    return 2;
  }
  if (!optimal) {
    std::fprintf(stderr, "not optimal\n");
    return 1;
  }
  std::printf("{\"solve_s\": %.6f, \"read_s\": %.6f, \"objective\": %lld}\n", solve_s,
              seconds(t0, t1), objective);
  return 0;
}
