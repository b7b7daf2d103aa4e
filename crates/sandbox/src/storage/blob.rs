//! The sandbox's own Blob REST calls into Azurite, signed with the account's key as IoT Hub's
//! key-based endpoints sign theirs: making containers and writing a routed batch.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hubsetup_storage::shared_key;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::state::StorageAccount;

/// The service version the sandbox's writes ask for.
const VERSION: &str = "2021-08-06";

/// What Azurite answered: its status, and its error code when it refused.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) error_code: Option<String>,
}

/// A Blob REST call: the path as on the wire (percent-encoded), the query decoded.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) path: &'a str,
    pub(crate) query: &'a [(&'a str, &'a str)],
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: Vec<u8>,
}

/// One signed request on its own connection.
pub(crate) async fn send(
    stream: TcpStream,
    host: &str,
    account: &StorageAccount,
    call: Call<'_>,
) -> Result<Answer, String> {
    let Call {
        method,
        path,
        query,
        headers,
        body,
    } = call;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let length = body.len().to_string();
    let mut signed: Vec<(&str, &str)> = vec![
        ("x-ms-date", &date),
        ("x-ms-version", VERSION),
        ("Content-Length", &length),
    ];
    signed.extend_from_slice(headers);
    let authorization = shared_key::authorization(
        &account.name,
        &account.keys[0],
        &shared_key::Request {
            method: method.as_str(),
            path,
            query,
            headers: &signed,
        },
    )
    .map_err(|e| e.to_string())?;
    let query_string: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    let uri = if query_string.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query_string}")
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host)
        .header("authorization", authorization);
    for (name, value) in &signed {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let error_code = response
        .headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The body is read so that the connection ends cleanly; its words are in the error code.
    let _ = response.into_body().collect().await;
    Ok(Answer { status, error_code })
}
