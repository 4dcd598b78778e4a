//! The user-agent commands: `register`, `call`, `answer`, `message`,
//! `subscribe` and `publish`.
//!
//! The SIP logic is `switchboard-ua` (sans-IO); here it runs as an
//! [`switchboard_net::App`] on the network driver ([`app`]), and each call's
//! audio runs in a tokio task over a pair of UDP sockets ([`media`]).
//! [`setup`] turns the shared options into the runtime's settings.

mod answer;
mod app;
mod call;
mod media;
mod message;
mod presence;
mod publish;
mod register;
mod setup;
mod subscribe;

pub(crate) use answer::answer;
pub(crate) use call::call;
pub(crate) use message::message;
pub(crate) use publish::publish;
pub(crate) use register::register;
pub(crate) use subscribe::subscribe;

pub(crate) use crate::{
    AnswerArgs, CallArgs, MessageArgs, PresenceArgs, PublishArgs, RegisterArgs, SrtpArg,
    SubscribeArgs, TransportArg, UaArgs,
};
