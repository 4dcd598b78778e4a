//! placeholder
pub mod digest;
pub mod sdp;
