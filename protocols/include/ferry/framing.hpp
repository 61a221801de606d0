#pragma once
/// The framing toolkit's codecs: pure, incremental framers for device protocols and the CRCs
/// they check. What puts a codec to work has its own header: <ferry/framed_protocol.hpp> (on a
/// transport), <ferry/framed_stream.hpp> (on a stream), <ferry/request_client.hpp>.

#include <ferry/crc.hpp>
#include <ferry/framing/cobs_codec.hpp>
#include <ferry/framing/crc_codec.hpp>
#include <ferry/framing/datagram_codec.hpp>
#include <ferry/framing/fixed_length_codec.hpp>
#include <ferry/framing/frame_sink.hpp>
#include <ferry/framing/idle_gap_codec.hpp>
#include <ferry/framing/length_field_codec.hpp>
#include <ferry/framing/line_codec.hpp>
#include <ferry/framing/netstring_codec.hpp>
#include <ferry/framing/slip_codec.hpp>
