//! SDP anchoring (to be written).
