// Typed calls to the Rust commands. Every type comes from `src/bindings`, generated from the
// Rust types by ts-rs (`cargo test`); nothing here restates a Rust type by hand.
import { invoke, type Channel } from "@tauri-apps/api/core";
import type { ExportRequest } from "./bindings/ExportRequest";
import type { FoundKey } from "./bindings/FoundKey";
import type { KeyView } from "./bindings/KeyView";
import type { OwnKeyView } from "./bindings/OwnKeyView";
import type { PasteResult } from "./bindings/PasteResult";
import type { ReceivedFile } from "./bindings/ReceivedFile";
import type { Report } from "./bindings/Report";
import type { TestChoice } from "./bindings/TestChoice";
import type { SavedString } from "./bindings/SavedString";
import type { SessionError } from "./bindings/SessionError";
import type { StartChoice } from "./bindings/StartChoice";
import type { StringCard } from "./bindings/StringCard";
import type { WizardView } from "./bindings/WizardView";
import type { CreateOutcome } from "./bindings/CreateOutcome";
import type { HubFacts } from "./bindings/HubFacts";
import type { HubInfo } from "./bindings/HubInfo";
import type { HubPlan } from "./bindings/HubPlan";
import type { Formats } from "./bindings/Formats";
import type { HandoffView } from "./bindings/HandoffView";
import type { PlanInput } from "./bindings/PlanInput";
import type { PlanView } from "./bindings/PlanView";
import type { TierPrices } from "./bindings/TierPrices";
import type { NameCheck } from "./bindings/NameCheck";
import type { Permissions } from "./bindings/Permissions";
import type { PolicyRequirements } from "./bindings/PolicyRequirements";
import type { ReachIssue } from "./bindings/ReachIssue";
import type { RegionList } from "./bindings/RegionList";
import type { ResourceGroup } from "./bindings/ResourceGroup";
import type { SignInMethod } from "./bindings/SignInMethod";
import type { Subscription } from "./bindings/Subscription";
import type { Tenant } from "./bindings/Tenant";
import type { TierFacts } from "./bindings/TierFacts";
import type { WatchEvent } from "./bindings/WatchEvent";
import type { WatchOptions } from "./bindings/WatchOptions";
import type { WatchRequest } from "./bindings/WatchRequest";
import type { KeepOptions } from "./bindings/KeepOptions";
import type { KeepPlan } from "./bindings/KeepPlan";
import type { StorageNameCheck } from "./bindings/StorageNameCheck";
import type { Stored } from "./bindings/Stored";
import type { StoredWait } from "./bindings/StoredWait";
import type { AlertChoice } from "./bindings/AlertChoice";
import type { AlertSetUp } from "./bindings/AlertSetUp";
import type { HubHealth } from "./bindings/HubHealth";

/** The message of a failed command, as the Rust side worded it. */
export function messageOf(error: unknown): string {
  const e = error as Partial<SessionError>;
  return typeof e?.message === "string" ? e.message : String(error);
}

export const api = {
  view: () => invoke<WizardView>("wizard_view"),
  start: (choice: StartChoice) => invoke<WizardView>("wizard_start", { choice }),
  next: () => invoke<WizardView>("wizard_next"),
  back: () => invoke<WizardView>("wizard_back"),
  paste: (text: string) => invoke<PasteResult>("paste_string", { text }),
  reveal: (handle: string) => invoke<string>("reveal_string", { handle }),
  copy: (handle: string) => invoke<string>("copy_string", { handle }),
  forget: (handle: string) => invoke<WizardView>("forget_string", { handle }),
  verify: (handle: string, choice: TestChoice) => invoke<Report>("verify_string", { handle, choice }),
  proxySignIn: (handle: string, user: string, password: string) =>
    invoke<string>("proxy_sign_in", { handle, user, password }),
  vaultList: () => invoke<SavedString[]>("vault_list"),
  vaultSave: (handle: string, label: string | null, replace: boolean) =>
    invoke<SavedString>("vault_save", { handle, label, replace }),
  vaultLoad: (name: string) => invoke<StringCard>("vault_load", { name }),
  vaultDelete: (name: string) => invoke<SavedString[]>("vault_delete", { name }),
  keyInfo: (text: string | null, path: string | null) => invoke<KeyView>("key_info", { text, path }),
  findKey: (handle: string, query: string) => invoke<FoundKey>("find_key", { handle, query }),
  exportString: (request: ExportRequest, passphrase: string | null) => invoke<string>("export_string", { request, passphrase }),
  ownKeys: () => invoke<OwnKeyView[]>("own_keys"),
  openReceived: (file: string, keyPath: string | null, passphrase: string | null) =>
    invoke<ReceivedFile>("open_received", { file, keyPath, passphrase }),
  signInMethods: () => invoke<SignInMethod[]>("sign_in_methods"),
  signIn: (method: SignInMethod) => invoke<WizardView>("sign_in", { method }),
  tenants: () => invoke<Tenant[]>("tenants"),
  switchTenant: (tenant: Tenant) => invoke<WizardView>("switch_tenant", { tenant }),
  subscriptions: () => invoke<Subscription[]>("subscriptions"),
  resourceGroups: (subscription: string) => invoke<ResourceGroup[]>("resource_groups", { subscription }),
  regions: (subscription: string) => invoke<RegionList>("regions", { subscription }),
  registerProvider: (subscription: string) => invoke<RegionList>("register_provider", { subscription }),
  hubs: (subscription: string) => invoke<HubInfo[]>("hubs", { subscription }),
  checkHubName: (subscription: string, name: string) => invoke<NameCheck>("check_hub_name", { subscription, name }),
  permissions: (subscription: string, resourceGroup: string | null) =>
    invoke<Permissions>("permissions", { subscription, resourceGroup }),
  hubFacts: (subscription: string, name: string) => invoke<HubFacts>("hub_facts", { subscription, name }),
  policyRequirements: (subscription: string, resourceGroup: string) =>
    invoke<PolicyRequirements>("policy_requirements", { subscription, resourceGroup }),
  tiers: () => invoke<TierFacts[]>("tiers"),
  formats: () => invoke<Formats>("formats"),
  handoffs: () => invoke<HandoffView[]>("handoffs"),
  prices: (currency: string) => invoke<TierPrices>("prices", { currency }),
  capacityPlan: (input: PlanInput | null) => invoke<PlanView | null>("capacity_plan", { input }),
  planHub: (hub: HubPlan, devices: string[], policy: string | null) => invoke<WizardView>("plan_hub", { hub, devices, policy }),
  createHub: () => invoke<CreateOutcome>("create_hub"),
  fixReach: (agreed: number[]) => invoke<ReachIssue[]>("fix_reach", { agreed }),
  cancel: () => invoke<void>("cancel"),
  watchOptions: () => invoke<WatchOptions>("watch_options"),
  createConsumerGroup: () => invoke<WatchOptions>("create_consumer_group"),
  deleteConsumerGroup: () => invoke<WatchOptions>("delete_consumer_group"),
  /** Resolves when the watch ends; what arrives meanwhile goes to `onEvent`. */
  watchStart: (request: WatchRequest, onEvent: Channel<WatchEvent>) => invoke<void>("watch_start", { request, onEvent }),
  watchStop: () => invoke<void>("watch_stop"),
  watchSave: (path: string, lines: string[]) => invoke<void>("watch_save", { path, lines }),
  hubHealth: () => invoke<HubHealth>("hub_health"),
  hubAlerts: () => invoke<AlertSetUp | null>("hub_alerts"),
  setUpAlerts: (choice: AlertChoice) => invoke<AlertSetUp>("set_up_alerts", { choice }),
  sendTestEmail: () => invoke<string[]>("send_test_email"),
  removeAlerts: () => invoke<null>("remove_alerts"),
  storageOptions: () => invoke<KeepOptions>("storage_options"),
  checkStorageName: (name: string) => invoke<StorageNameCheck>("check_storage_name", { name }),
  planKeep: (keep: KeepPlan | null) => invoke<WizardView>("plan_keep", { keep }),
  /** Resolves when the message is found in storage; the seconds left go to `onWait`. */
  waitStored: (handle: string, onWait: Channel<StoredWait>) => invoke<Stored>("wait_stored", { handle, onWait }),
};
