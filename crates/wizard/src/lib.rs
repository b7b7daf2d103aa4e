//! The wizard without a window: which steps a flow has, what each step needs before Next, the
//! state that survives a restart (never a secret), and the shelf that keeps connection strings
//! in Rust and gives the webview only handles and masked previews.
//!
//! TypeScript types for the front end are generated from these types (`ts-rs`, written to
//! `ui/src/bindings` by `cargo test`).

mod admin;
mod cost;
mod flow;
mod handoff;
mod health;
mod keep;
mod session;
mod shelf;
mod watch;

pub use admin::{CreateOutcome, ReachIssue, RegionList};
pub use cost::{Formats, PlanView};
pub use flow::{
    Flow, HubPlan, StartChoice, Step, StepInfo, StringCard, WizardError, WizardState, WizardView,
};
pub use handoff::{
    ExportRequest, FoundKey, HandoffView, KeySource, KeyView, OwnKeyView, ReceivedFile, SignWith,
    Signing,
};
pub use hubsetup_cost::{CapacityPlan, PlanInput, TierPrices};
pub use hubsetup_health::{AlertChoice, AlertSetUp, Health};
pub use hubsetup_keep::{NameCheck as StorageNameCheck, Stored};
pub use keep::{KeepOptions, KeepPlan, StorageFormat, StoredWait};
pub use session::{
    FieldRow, PasteResult, SavedString, Session, SessionError, TestChoice, TestStage,
};
pub use shelf::{Shelf, ShelfError};
pub use watch::{
    ShownBody, WatchEvent, WatchOptions, WatchRequest, WatchSince, WatchSource, WatchedMessage,
};
