// What a Network holds: the imported graph and the tensors marked for debugging.
#pragma once

#include <set>

#include "ir/graph.h"
#include "kiln/network.h"

namespace kiln {

struct Network::Impl {
  ir::Graph graph;
  std::set<std::string> debug_tensors;
};

}  // namespace kiln
