//! Every tag key cost-guard writes or reads, in one place. Who can write each
//! one matters: anyone who may tag a resource can write or remove any of
//! these, so none of them is proof that cost-guard wrote it; each reader
//! says why acting on it is still safe.

/// Every tag key cost-guard writes starts so: a write of any of them by a
/// principal the tripwire does not trust is reported.
pub(crate) const GUARD_TAG_PREFIX: &str = "cost-guard:";
/// Written on everything cost-guard stops: when (RFC 3339 UTC).
pub const STOPPED_AT_TAG: &str = "cost-guard:stopped-at";
/// Written on everything cost-guard stops: which trigger.
pub const STOPPED_BY_TAG: &str = "cost-guard:stopped-by";
/// Written by a resume in place of the stamp while it starts a resource: the
/// old stamp's time and trigger. The stamp goes first, so that nothing that
/// acts on stamped resources (the keep-stopped watch) takes the start for a
/// restart to undo; the resume role may start only what carries this tag.
pub(crate) const RESUMING_TAG: &str = "cost-guard:resuming";
/// Written before a stop on what has no stopped state of its own (an Auto
/// Scaling group's suspended processes and sizes, an ECS service's count and
/// its scaling target): what it was, as `key=value` pairs, for resume to
/// restore. Resume refuses a resource whose saved state is missing or
/// cannot be read, and never restores more than the resource's own limits
/// allow (see each kind), since anyone who may tag it may write this too.
pub(crate) const SAVED_TAG: &str = "cost-guard:saved";
/// How many times keep-stopped has stopped a database again after RDS's
/// restart.
pub(crate) const RESTOPS_TAG: &str = "cost-guard:restops";
/// Written when RDS announces a forced start of a stamped database that
/// cannot be stopped yet (it is starting); the "started" event that follows
/// finds it.
pub(crate) const RESTART_PENDING_TAG: &str = "cost-guard:restart-pending";
/// Written by member.yaml on each function's member role: the unique id of
/// the role resume starts things through in that account.
pub(crate) const RESUME_ROLE_ID_TAG: &str = "cost-guard:resume-role-id";
/// Written by member.yaml on each function's member role: the unique ids of
/// its other roles there, separated by spaces.
pub(crate) const GUARD_ROLE_IDS_TAG: &str = "cost-guard:guard-role-ids";

/// Default of `STOP_TAG_KEY`: the tag that marks a resource for stopping.
pub(crate) const DEFAULT_STOP_TAG_KEY: &str = "cost-guard";
/// Default of `STOP_TAG_VALUE`.
pub(crate) const DEFAULT_STOP_TAG_VALUE: &str = "stop";
/// Default of `EXEMPT_TAG_KEY`: the tag that exempts a resource from every
/// sweep, whatever its value.
pub(crate) const DEFAULT_EXEMPT_TAG_KEY: &str = "cost-guard-exempt";

/// Read, never written: EC2 Auto Scaling puts it on every instance of a
/// group (only Auto Scaling may write `aws:` tags).
pub const ASG_TAG: &str = "aws:autoscaling:groupName";
