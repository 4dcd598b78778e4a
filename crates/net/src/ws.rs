//! WebSocket handshakes for SIP (RFC 7118): the `sip` subprotocol.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{
    HeaderValue, StatusCode, header::SEC_WEBSOCKET_PROTOCOL,
};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The WebSocket subprotocol of SIP (RFC 7118 §4).
pub const SUBPROTOCOL: &str = "sip";

fn config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
}

/// Whether the client offered the `sip` subprotocol.
fn offers_sip(request: &Request) -> bool {
    request
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL)
}

/// Accepts a WebSocket connection that asks for the `sip` subprotocol and
/// answers `Sec-WebSocket-Protocol: sip`; refuses others with 400.
#[allow(clippy::result_large_err)] // the callback's error type is tungstenite's
pub(crate) async fn accept<S>(
    stream: S,
    max_message_size: usize,
) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let callback = |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
        if !offers_sip(request) {
            let mut refusal =
                ErrorResponse::new(Some("the sip subprotocol is required".to_owned()));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        response.headers_mut().insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(response)
    };
    tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(config(max_message_size)),
    )
    .await
}

/// Opens a WebSocket over `stream` to `remote`, asking for `sip`.
pub(crate) async fn connect<S>(
    stream: S,
    remote: SocketAddr,
    secure: bool,
    max_message_size: usize,
) -> Result<WebSocketStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let scheme = if secure { "wss" } else { "ws" };
    let mut request = format!("{scheme}://{remote}/").into_client_request()?;
    request.headers_mut().insert(
        SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let (ws, _response) = tokio_tungstenite::client_async_with_config(
        request,
        stream,
        Some(config(max_message_size)),
    )
    .await?;
    Ok(ws)
}
