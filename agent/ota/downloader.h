// Resumable artifact download: one HTTP Range request per call, each chunk
// fsynced into the partial file before the caller records the new offset.
//
// What it is for: the engine calls DownloadChunk once per step of its
// downloading state and persists `downloaded` after each success, so a
// dropped connection or a restart costs at most the chunk in flight (bytes
// fetched twice <= chunk_bytes). The partial file is cut back to the
// persisted offset before each write, so bytes written after the last
// recorded offset (a crash between the fsync and the record) are written
// again, never trusted.
//
// HTTP: `Range: bytes=a-b` (b = a + chunk - 1, clamped to the size), with
// `If-Range: <etag>` once an ETag is known, so an artifact that changed on
// the server answers 200 with the whole new body instead of a chunk that
// would not fit. 206 must carry `Content-Range: bytes a-b/size` matching the
// request; a 200 must be the whole artifact (size_bytes). The artifact's
// Ed25519 signature travels in the `X-Edgefleet-Signature` header (base64 of
// the 64-byte signature of the artifact bytes) of every download response.
//
// Threads: a function of its arguments; the engine's worker calls it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/ota/platform.h"

namespace edgefleet::ota {

inline constexpr const char* kSignatureHeader = "X-Edgefleet-Signature";

struct ChunkRequest {
  std::string url;
  std::vector<HttpHeader> headers;  // e.g. Authorization
  std::uint64_t size = 0;           // size_bytes of the manifest
  std::uint64_t offset = 0;         // bytes already in the partial file (fsynced)
  std::uint64_t chunk_bytes = 16 * 1024;
  std::string etag;                 // empty until the first response
  std::chrono::milliseconds timeout{30'000};
};

struct ChunkResult {
  std::uint64_t downloaded = 0;  // the new offset; == size when complete
  std::string etag;              // as the server sent it (may be empty)
  std::string signature;         // X-Edgefleet-Signature (may be empty)
  bool restarted = false;        // the server sent the whole (maybe new) artifact
};

// Errors: kUnavailable / kDeadlineExceeded (network: retry), kAborted (the
// artifact changed under a resume without an ETag match: start again from 0),
// kNotFound (404), kCorrupt (a response that contradicts the request or the
// manifest), kResourceExhausted (disk full), kIo.
Expected<ChunkResult> DownloadChunk(Filesystem& fs, HttpClient& http, const std::filesystem::path& part,
                                    const ChunkRequest& request);

}  // namespace edgefleet::ota
