//! SDP
