//! Why a body a peer sent is not a document the server accepts.

use switchboard_proto::StatusCode;

/// A published body the server refuses. Every variant is the sender's fault;
/// a wrong Content-Type is not one of them (the caller answers 415 before
/// parsing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Not well-formed (namespace-aware) XML: syntax, mismatched or missing
    /// end tags, an unbound prefix, an undefined entity, text outside the
    /// root.
    #[error("the body is not well-formed XML (near byte {position})")]
    NotXml {
        /// Byte offset where reading failed.
        position: u64,
    },
    /// A document type declaration: refused outright, so no entity can be
    /// defined and expanded.
    #[error("the body has a document type declaration, which is not accepted")]
    Doctype,
    /// Well-formed, but its root is not the element the package carries.
    #[error("the body is not a {expected} document")]
    WrongDocument {
        /// The expected root, `{namespace}local`.
        expected: &'static str,
    },
    /// Larger than the bound.
    #[error("the body has {len} bytes, more than the {limit} accepted")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The bound.
        limit: usize,
    },
    /// Elements nested deeper than the bound.
    #[error("the body nests elements deeper than {limit}")]
    TooDeep {
        /// The bound.
        limit: usize,
    },
}

impl BodyError {
    /// The status a PUBLISH with this body is answered with: 413 for an
    /// oversized body, 400 for the rest.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } => StatusCode::REQUEST_ENTITY_TOO_LARGE,
            Self::NotXml { .. }
            | Self::Doctype
            | Self::WrongDocument { .. }
            | Self::TooDeep { .. } => StatusCode::BAD_REQUEST,
        }
    }
}
