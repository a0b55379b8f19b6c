//! The pure domain: everything cost-guard decides, as functions over plain
//! data, tested exhaustively with no AWS at all.
//!
//! | concern | module |
//! |---|---|
//! | configuration from the environment, one part per concern, checked at cold start | [`config`] |
//! | every tag key cost-guard writes or reads | [`tags`] |
//! | which accounts a sweep covers | [`accounts`] |
//! | whether every piece the guard needs is in place: `cost-guard doctor`'s checks | [`doctor`] |
//! | what the weekly check remembers, and whether it tells subscribers | [`weekly_check`] |
//! | an ARN's parts | [`arn`] |
//! | a sweep of many accounts through the queue: jobs, results, summary | [`fanout`] |
//! | SNS envelopes, Budgets, billing alarms, anomalies, root activity, schedules, launches | [`trigger`] |
//! | amounts of money | [`money`] |
//! | CIDR ranges (trusted networks) | [`cidr`] |
//! | act or only report; how urgent a root activity is | [`policy`] |
//! | what every kind of resource has in common: tags, report line, record | [`inventory`] |
//! | each kind: EC2 instance, Auto Scaling group, RDS instance and cluster, ECS service, SageMaker notebook and endpoint, Redshift cluster | [`kinds`] |
//! | which resources to stop, which to skip and why | [`select`] |
//! | month-to-date periods, cost metrics, spend limits | [`spend`] |
//! | a failed AWS call as data | [`error`] |
//! | what a sweep did: stamp, outcomes, reports | [`outcome`] |
//! | what subscribers read, one renderer per function | [`render`] |
//! | what `resume` starts again, and what it leaves | [`resume`] |
//! | what the keep-stopped watch does with an RDS start | [`keep_stopped`] |
//! | what the launch tripwire stops, reports or passes over | [`tripwire`] |
//! | words of the shell commands reports print | `shell` |
//! | glob patterns of instance types and principal ARNs | [`glob`] |
//! | what a costly instance costs an hour: the built-in table | [`prices`] |
//! | the burn rate: what runs now, its price, burn-watch's limits | [`burn`] |
//! | what the fuzz targets check (tests and `fuzzing` only) | `fuzzing` |

pub mod accounts;
pub mod arn;
pub mod burn;
pub(crate) mod cidr;
pub mod config;
pub mod doctor;
pub mod error;
pub(crate) mod fanout;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub(crate) mod glob;
pub mod inventory;
pub mod keep_stopped;
pub mod kinds;
pub mod money;
pub mod outcome;
pub mod policy;
pub mod prices;
pub mod render;
pub mod resume;
pub mod select;
pub(crate) mod shell;
pub mod spend;
pub mod tags;
pub mod trigger;
pub mod tripwire;
pub mod weekly_check;
