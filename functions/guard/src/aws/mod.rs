//! The AWS adapters: small modules that call the SDK and convert its types into
//! the domain's, so nothing above them sees the SDK.
//!
//! | concern | module |
//! |---|---|
//! | SDK configuration: retries, timeouts, endpoint | [`sdk`] |
//! | reaching accounts and regions: own account id, member-role credentials, region clients | [`accounts`] |
//! | the sweep, its plan and resume over every account and region; the sweep queue's dispatch | [`fleet`] |
//! | SDK errors into [`AwsError`](crate::domain::error::AwsError) | `error` |
//! | each kind of resource: listed, chosen, stopped, stamped, started again | [`kinds`] |
//! | EC2 instances: describe, stop in batches, stamp | [`ec2`] |
//! | RDS instances and clusters: describe, stop, stamp | [`rds`] |
//! | which regions are enabled | [`regions`] |
//! | Cost Explorer: month-to-date spend and forecast | [`costexplorer`] |
//! | what `cost-guard doctor` reads: the stack, its topics, trails, forwarders, accounts, hygiene | [`doctor`] |
//! | the subscribers' topic | [`sns`] |
//! | what runs now in every region, priced: the burn rate | [`burn`] |
//! | prices: the price list, spot prices, the built-in table as fallback | [`pricing`] |
//! | the sweep queue and its results queue | [`queue`] |
//! | the stop sweep of one account's regions, within a time budget | [`sweep`] |
//! | starting again what was stopped in one account's regions | [`resume`] |
//! | what a launch started, and stopping exactly that | [`tripwire`] |
//! | what an untrusted compute call made (a group, a service, a notebook, ...), and stopping it | `compute` |
//! | the spot requests and fleets an untrusted principal made | [`marks`] |
//! | the seal on a saved state (KMS HMAC) | [`seal`] |
//! | the tripwire's quarantine policy, member.yaml's role ids | [`iam`] |

pub mod accounts;
pub mod burn;
pub(crate) mod compute;
pub mod costexplorer;
pub mod doctor;
pub mod ec2;
mod error;
pub mod fleet;
pub mod iam;
pub mod kinds;
pub mod marks;
pub mod pricing;
pub mod queue;
pub mod rds;
pub mod regions;
pub mod resume;
pub mod sdk;
pub mod seal;
pub mod sns;
pub mod sweep;
pub mod tripwire;
