//! Management locks: a `ReadOnly` lock on "contoso-locked" (frozen for an audit) refuses every
//! write in the group, listing keys included (a POST), with ARM's `ScopeLocked`; a
//! `CanNotDelete` lock refuses deletes. `Microsoft.Authorization/locks` lists them, so that a
//! client can name the lock and its owner's note.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::http::{arm_error, json_response, Resp};
use crate::state::SUBSCRIPTION_DEV;

struct Lock {
    subscription: &'static str,
    group: &'static str,
    name: &'static str,
    read_only: bool,
    notes: &'static str,
}

const LOCKS: &[Lock] = &[Lock {
    subscription: SUBSCRIPTION_DEV,
    group: "contoso-locked",
    name: "freeze-for-audit",
    read_only: true,
    notes: "Frozen for the annual audit until 31 January 2027. Ask platform@contoso.example.",
}];

impl Lock {
    fn scope(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.group
        )
    }

    fn covers(&self, scope: &str) -> bool {
        let own = self.scope().to_ascii_lowercase();
        let scope = scope.to_ascii_lowercase();
        scope == own || scope.starts_with(&format!("{own}/"))
    }

    fn json(&self) -> Value {
        json!({
            "properties": { "level": if self.read_only { "ReadOnly" } else { "CanNotDelete" }, "notes": self.notes },
            "id": format!("{}/providers/Microsoft.Authorization/locks/{}", self.scope(), self.name),
            "type": "Microsoft.Authorization/locks",
            "name": self.name,
        })
    }
}

/// ARM's refusal of `method` at `scope` (an ARM path) because a lock covers it, if one does.
/// `read_only_action` is a POST that only reads (checkNameAvailability), which no lock stops.
pub(crate) fn refuse(method: &Method, scope: &str, read_only_action: bool) -> Option<Resp> {
    let deletes = method == Method::DELETE;
    let writes = !matches!(*method, Method::GET | Method::HEAD) && !read_only_action;
    let locked: Vec<String> = LOCKS
        .iter()
        .filter(|l| l.covers(scope) && (deletes || (writes && l.read_only)))
        .map(Lock::scope)
        .collect();
    if locked.is_empty() {
        return None;
    }
    let operation = if deletes { "delete" } else { "write" };
    Some(arm_error(
        StatusCode::CONFLICT,
        "ScopeLocked",
        &format!(
            "The scope '{scope}' cannot perform {operation} operation because following scope(s) are locked: '{}'. Please remove the lock and try again.",
            locked.join("', '")
        ),
    ))
}

/// `GET {scope}/providers/Microsoft.Authorization/locks`: the locks at, above or under it.
pub(crate) fn list(scope: &str) -> Resp {
    let scope_lower = scope.to_ascii_lowercase();
    let value: Vec<Value> = LOCKS
        .iter()
        .filter(|l| {
            l.covers(scope)
                || l.scope()
                    .to_ascii_lowercase()
                    .starts_with(&format!("{scope_lower}/"))
        })
        .map(Lock::json)
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}
