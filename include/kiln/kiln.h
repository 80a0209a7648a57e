// Everything of kiln's public API.
#pragma once

#include "kiln/algorithm_selector.h"
#include "kiln/builder.h"
#include "kiln/context.h"
#include "kiln/engine.h"
#include "kiln/errors.h"
#include "kiln/logger.h"
#include "kiln/memory.h"
#include "kiln/network.h"
#include "kiln/onnx.h"
#include "kiln/profiler.h"
#include "kiln/progress_monitor.h"
#include "kiln/refitter.h"
#include "kiln/tactic.h"
#include "kiln/timing_cache.h"
#include "kiln/types.h"

//! kiln's version, "major.minor.patch".
namespace kiln {
const char* version();
}
