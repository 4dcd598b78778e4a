//! Virtual-clock tests: registration timing and auth, the offer/answer
//! matrix, and calls between two user agents over two real endpoints.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // tests: a failure is a bug in the test

mod bodies;
mod calls;
mod harness;
mod offer_answer;
mod pager;
mod peer_input;
mod publication;
mod registration;
mod subscription;
mod user_agent;
