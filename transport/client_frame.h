// Decoding one WebSocket message from a device into a ClientFrame, exactly as SyncServer
// does it: the connection's StreamDecompressor (bounded by limits::kMaxDecompressedFrame),
// then the protobuf, then the check that the frame carries a body. Kept out of the stream
// session (server_stream_session.cpp) so tests and the fuzz target
// (fuzz/wire_frames_fuzzer.cpp) run the code the server runs. I/O-free.
// Thread rules: as the StreamDecompressor: one connection's decompressor, one thread.
#pragma once

#include <string_view>

#include "engine/status.h"
#include "outpost/protocol.pb.h"
#include "transport/wire_codec.h"
#include "transport/zstd_codec.h"

namespace outpost {

// Errors: kTooLarge when the message declares more than limits::kMaxDecompressedFrame
// (the server closes with 1009); kInvalidArgument for undecodable compression, bytes that
// are not a ClientFrame, or an empty ClientFrame; kFailedPrecondition when `decompressor`
// is already poisoned (both close with 1007). A decompression error poisons
// `decompressor` (see StreamDecompressor); a protobuf error does not, though the server
// closes the connection either way.
Result<protocol::ClientFrame> decode_client_frame(StreamDecompressor& decompressor,
                                                  std::string_view message);
// The same through a connection's WireCodec (format 1 or 2, decision 039). In format 2 a
// decoding error concerns this message only (there is no stream to poison).
Result<protocol::ClientFrame> decode_client_frame(WireCodec& codec, std::string_view message);

}  // namespace outpost
