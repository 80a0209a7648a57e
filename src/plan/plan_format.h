// The plan file format. Layout (all integers little-endian):
//
//   header   magic "KILNPLAN", u32 format version, u32 header size, then the Header fields
//   table    u32 section count, then per section: u32 kind, u64 offset, u64 size, u64 checksum
//            then a u64 checksum of every byte before it (magic .. table)
//   sections each 64-byte aligned: graph (tensors, io, symbols), layers, profiles, weight
//            program, weights (raw tensor bytes, each aligned), debug tensors
//
// The reader validates magic, version, every size, offset and checksum before it uses a byte,
// and refuses plans from a newer format; it loads every older format listed in
// kReadableFormatVersions (golden plans in tests/data/plans prove it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace kiln::plan {

constexpr uint32_t kFormatVersion = 3;
//! Every format version deserialize() reads (older ones are migrated on load).
inline constexpr std::array<uint32_t, 3> kReadableFormatVersions = {1, 2, 3};

std::vector<std::byte> serialize(const Plan& plan);

//! Throws kiln::Error(kInvalidPlan) naming `display_name` and what is wrong.
Plan deserialize(std::span<const std::byte> bytes, const std::string& display_name = "plan");

//! Reads only the header (for `kiln inspect` and compatibility checks).
Header readHeader(std::span<const std::byte> bytes, const std::string& display_name = "plan");

}  // namespace kiln::plan
