//! Automatic proxy configuration (PAC): a JavaScript file, at a URL the organisation sets,
//! whose `FindProxyForURL(url, host)` names the proxy for each request. The operating system
//! runs it (WinHTTP on Windows), as the browser does, so answers match the browser's. Each
//! host is asked once per run: the OS downloads the script on each question.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::{proxy_target, ProxyTarget};

/// Why an automatic-configuration script gave no proxy for a host; the settings beside the
/// script are used instead, as Windows does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("the automatic proxy configuration script {url} could not be downloaded")]
    Unreachable { url: String },
    #[error("the automatic proxy configuration script {url} does not run: {detail}")]
    Broken { url: String, detail: String },
    #[error("automatic proxy configuration scripts are run on Windows only")]
    Unsupported,
}

/// The script's answer for one host: a proxy, `None` for `DIRECT`, or why there is none.
type Answer = Result<Option<ProxyTarget>, ScriptError>;

#[derive(Clone)]
pub(super) struct AutoConfig {
    url: String,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
}

impl AutoConfig {
    pub(super) fn new(url: &str) -> AutoConfig {
        AutoConfig {
            url: url.to_owned(),
            answers: Arc::default(),
        }
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// The script's proxy for `https://{host}/`, `None` for `DIRECT`.
    pub(super) fn proxy_for(&self, host: &str) -> Answer {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers
            .entry(host.to_owned())
            .or_insert_with(|| {
                let answer = run(&self.url, host)?;
                answer
                    .as_deref()
                    .and_then(super::https_entry)
                    .map(proxy_target)
                    .transpose()
                    .map_err(|e| ScriptError::Broken {
                        url: self.url.clone(),
                        detail: e.to_string(),
                    })
            })
            .clone()
    }
}

impl PartialEq for AutoConfig {
    fn eq(&self, other: &AutoConfig) -> bool {
        self.url == other.url
    }
}

impl Eq for AutoConfig {}

impl fmt::Debug for AutoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AutoConfig").field(&self.url).finish()
    }
}

/// The script's answer for `host` as the OS gives it (`proxy:port; proxy2:port`), `None` for
/// `DIRECT`.
#[cfg(windows)]
fn run(url: &str, host: &str) -> Result<Option<String>, ScriptError> {
    super::windows::run_script(url, host)
}

#[cfg(not(windows))]
fn run(_url: &str, _host: &str) -> Result<Option<String>, ScriptError> {
    Err(ScriptError::Unsupported)
}

#[cfg(all(test, not(windows)))]
mod tests {
    use super::super::ProxySettings;
    use super::*;

    /// Where the OS cannot run the script, or the script fails, the proxy set beside it
    /// serves, with its exemptions (as Windows does).
    #[test]
    fn without_an_answer_from_the_script_the_proxy_beside_it_serves() {
        let settings = ProxySettings::parse(Some("proxy.corp:8080"), Some("<local>"))
            .unwrap()
            .with_script("http://wpad.corp/proxy.pac");
        assert_eq!(settings.script_url(), Some("http://wpad.corp/proxy.pac"));
        assert_eq!(
            settings.script_failure("management.azure.com"),
            Some(ScriptError::Unsupported)
        );
        assert_eq!(
            settings
                .for_host("management.azure.com")
                .unwrap()
                .authority(),
            "proxy.corp:8080"
        );
        assert_eq!(settings.for_host("intranet"), None);
        let script_only = ProxySettings::none().with_script("http://wpad.corp/proxy.pac");
        assert!(script_only.any());
        assert_eq!(script_only.for_host("management.azure.com"), None);
    }
}
