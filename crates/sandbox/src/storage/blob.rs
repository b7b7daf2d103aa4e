//! The sandbox's own Blob REST calls into Azurite: signed with the account's key as IoT Hub's
//! key-based endpoints sign theirs (making containers, writing a routed batch), or with a SAS
//! a request gave the hub (import and export jobs).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hubsetup_storage::shared_key;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::state::StorageAccount;

/// The service version the sandbox's writes ask for.
const VERSION: &str = "2021-08-06";

/// What Azurite answered: its status, its error code when it refused, and its body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) error_code: Option<String>,
    pub(crate) body: Bytes,
}

/// How a call signs in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// Shared Key, with the account's first key.
    SharedKey(&'a StorageAccount),
    /// A shared access signature: its query string, as given.
    Sas(&'a str),
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
    auth: Auth<'_>,
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
    let authorization = match auth {
        Auth::SharedKey(account) => Some(
            shared_key::authorization(
                &account.name,
                &account.keys[0],
                &shared_key::Request {
                    method: method.as_str(),
                    path,
                    query,
                    headers: &signed,
                },
            )
            .map_err(|e| e.to_string())?,
        ),
        Auth::Sas(_) => None,
    };
    let mut query_string: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    if let Auth::Sas(sas) = auth {
        if !query_string.is_empty() {
            query_string.push('&');
        }
        query_string.push_str(sas.trim_start_matches('?'));
    }
    let uri = if query_string.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query_string}")
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
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
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Answer {
        status,
        error_code,
        body,
    })
}
