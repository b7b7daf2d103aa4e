//! Azure role-based access control's action patterns, shared by the client (what the signed-in
//! user may do, from `Microsoft.Authorization/permissions`) and the sandbox (what it allows).
//!
//! A role lists `actions` and `notActions` such as `*`, `*/read` or
//! `Microsoft.Authorization/*/Write`; `*` stands for any run of characters, and case does not
//! matter. An action is permitted when some role's actions match it and none of that role's
//! not-actions do.

/// One role's grant, as `Microsoft.Authorization/permissions` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
}

impl Grant {
    pub fn allows(&self, action: &str) -> bool {
        self.actions.iter().any(|a| matches(a, action))
            && !self.not_actions.iter().any(|n| matches(n, action))
    }
}

/// Whether any of `grants` permits `action`.
pub fn permitted(grants: &[Grant], action: &str) -> bool {
    grants.iter().any(|g| g.allows(action))
}

/// Whether the action pattern `pattern` matches `action`.
pub fn matches(pattern: &str, action: &str) -> bool {
    let (pattern, action) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = action.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_azure_matches_them() {
        assert!(matches("*", "Microsoft.Devices/IotHubs/write"));
        assert!(matches("*/read", "Microsoft.Devices/IotHubs/Read"));
        assert!(!matches("*/read", "Microsoft.Devices/IotHubs/write"));
        assert!(matches(
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/locks/write"
        ));
        assert!(!matches(
            "Microsoft.Authorization/*/Write",
            "Microsoft.Devices/IotHubs/write"
        ));
        assert!(matches(
            "Microsoft.Devices/IotHubs/write",
            "microsoft.devices/iothubs/WRITE"
        ));
        assert!(!matches(
            "Microsoft.Devices/IotHubs/write",
            "Microsoft.Devices/IotHubs/writeX"
        ));
        assert!(matches(
            "Microsoft.Devices/*/listkeys/*",
            "Microsoft.Devices/IotHubs/listkeys/action"
        ));
    }

    #[test]
    fn not_actions_carve_out_of_actions() {
        let contributor = Grant {
            actions: vec!["*".into()],
            not_actions: vec!["Microsoft.Authorization/*/Write".into()],
        };
        assert!(contributor.allows("Microsoft.Devices/IotHubs/write"));
        assert!(!contributor.allows("Microsoft.Authorization/locks/write"));
        let reader = Grant {
            actions: vec!["*/read".into()],
            not_actions: vec![],
        };
        assert!(!permitted(
            &[reader.clone(), contributor],
            "Microsoft.Authorization/locks/write"
        ));
        assert!(!permitted(
            &[reader],
            "Microsoft.Devices/IotHubs/listkeys/action"
        ));
        assert!(!permitted(&[], "Microsoft.Devices/IotHubs/read"));
    }
}
