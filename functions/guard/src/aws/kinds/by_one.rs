//! What the kinds that act on one resource per call and tag it by ARN
//! share (ECS services, SageMaker notebooks and endpoints, Redshift
//! clusters): each says how it lists, chooses, stops, starts and tags one
//! resource; [`ByOne`] makes it a [`Kind`].

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::{one_by_one, started, Answer, InRegion, Kind, StopPlan};
use crate::domain::burn::usage::Running;
use crate::domain::config::SelectionConfig;
use crate::domain::error::AwsError;
use crate::domain::inventory::{Record, ResourceKind, Target};
use crate::domain::outcome::{Outcome, Stamp};
use crate::domain::resume::{plan_start, ResumeRequest, StartPlan};
use crate::domain::select::{self, Skipped};
use crate::domain::tags::{RESUMING_TAG, STOPPED_AT_TAG, STOPPED_BY_TAG};

/// A region's records of one kind, listed once per sweep or resume.
pub(super) type Listed<R> = Arc<Result<Vec<R>, AwsError>>;

/// One kind that acts on one resource per call.
pub(super) trait OneAtATime: Send + Sync {
    type Record: Record + Send + Sync + 'static;

    fn kind(&self) -> ResourceKind;

    /// See [`Kind::needs_capacity`].
    fn needs_capacity(&self) -> bool {
        false
    }

    /// The region's records, through [`InRegion::shared`].
    fn list<'a>(&'a self, at: &'a InRegion<'a>) -> BoxFuture<'a, Listed<Self::Record>>;

    /// What to stop, and what to list as skipped.
    fn choose(
        &self,
        records: &[Self::Record],
        select: &SelectionConfig,
        region: &str,
    ) -> (Vec<Target>, Vec<Skipped>);

    /// Stops one resource (saving first what resume needs).
    fn stop_one<'a>(&'a self, at: &'a InRegion<'a>, r: &'a Self::Record) -> BoxFuture<'a, Outcome>;

    /// Starts one resource (restoring what was saved).
    fn start_one<'a>(&'a self, at: &'a InRegion<'a>, r: &'a Self::Record)
        -> BoxFuture<'a, Outcome>;

    fn tag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        r: &'a Self::Record,
        pairs: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    fn untag<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        r: &'a Self::Record,
        keys: &'a [&'a str],
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// The tags a finished resume removes: the marker, and what was saved.
    fn cleared(&self) -> &'static [&'static str] {
        &[RESUMING_TAG]
    }

    /// The ARN a kind with a sealed saved state seals it for; `None` for
    /// the kinds that save nothing.
    fn sealed<'a>(&self, _r: &'a Self::Record) -> Option<&'a str> {
        None
    }

    /// See [`Kind::running`]: by default, what [`OneAtATime::charged`]
    /// makes of each listed record.
    fn running<'a>(
        &'a self,
        at: &'a InRegion<'a>,
    ) -> BoxFuture<'a, Result<Vec<Running>, AwsError>> {
        async move {
            let listed = self.list(at).await;
            let records = listed.as_ref().as_ref().map_err(Clone::clone)?;
            Ok(records
                .iter()
                .filter_map(|r| self.charged(r, at.region))
                .collect())
        }
        .boxed()
    }

    /// What one record runs and is billed for by the hour, if it runs.
    fn charged(&self, _r: &Self::Record, _region: &str) -> Option<Running> {
        None
    }
}

/// A [`OneAtATime`] kind as a [`Kind`].
pub(super) struct ByOne<K>(pub K);

/// The listed record of `t`.
fn find<'r, R: Record>(records: &'r [R], t: &Target) -> Option<&'r R> {
    records.iter().find(|r| r.handle() == t.handle)
}

/// Tags or untags each target, in turn, through `act`; a target no longer
/// listed is an error, never a guess.
async fn each<'a, R: Record>(
    listed: &'a Listed<R>,
    targets: &[Target],
    act: impl Fn(&'a R) -> BoxFuture<'a, Result<(), AwsError>>,
) -> Result<(), AwsError> {
    let records = listed.as_ref().as_ref().map_err(Clone::clone)?;
    for t in targets {
        let r = find(records, t).ok_or_else(|| {
            AwsError::new(
                "tag",
                "NotListed",
                format!("{} was not listed in this region", t.resource.id),
            )
        })?;
        act(r).await?;
    }
    Ok(())
}

impl<K: OneAtATime> Kind for ByOne<K> {
    fn kind(&self) -> ResourceKind {
        self.0.kind()
    }

    fn needs_capacity(&self) -> bool {
        self.0.needs_capacity()
    }

    fn plan_stop<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        select: &'a SelectionConfig,
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<StopPlan, AwsError>> {
        async move {
            let listed = self.0.list(at).await;
            let records = listed.as_ref().as_ref().map_err(Clone::clone)?;
            let (to_stop, skipped) = self.0.choose(records, select, at.region);
            Ok(StopPlan {
                to_stop,
                skipped,
                earlier: select::earlier(records, select, &stamp.by, &stamp.at),
            })
        }
        .boxed()
    }

    fn stop<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        answer: Answer<'a>,
    ) -> BoxFuture<'a, Vec<String>> {
        async move {
            let listed = self.0.list(at).await;
            let records: &[K::Record] = listed.as_ref().as_deref().unwrap_or_default();
            let mut done = Vec::new();
            for t in batch {
                let outcome = match find(records, t) {
                    Some(r) => self.0.stop_one(at, r).await,
                    None => Outcome::Skipped("it no longer exists".into()),
                };
                if outcome == Outcome::Done {
                    done.push(t.handle.clone());
                }
                answer(vec![(t.handle.clone(), outcome)]);
            }
            done
        }
        .boxed()
    }

    fn stamp<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        stopped: &'a [Target],
        stamp: &'a Stamp,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            let listed = self.0.list(at).await;
            let pairs = [
                (STOPPED_AT_TAG, stamp.at.as_str()),
                (STOPPED_BY_TAG, stamp.by.as_str()),
            ];
            let pairs = &pairs;
            each(&listed, stopped, |r| self.0.tag(at, r, pairs)).await
        }
        .boxed()
    }

    fn plan_start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        request: &'a ResumeRequest,
    ) -> BoxFuture<'a, Result<StartPlan, AwsError>> {
        async move {
            let listed = self.0.list(at).await;
            let records = listed.as_ref().as_ref().map_err(Clone::clone)?;
            let plan = plan_start(records, request);
            Ok(crate::aws::seal::checked(at, plan, |t| {
                let r = find(records, t)?;
                Some((self.0.sealed(r)?, r.tags()))
            })
            .await)
        }
        .boxed()
    }

    fn mark_resuming<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        marker: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            let listed = self.0.list(at).await;
            let pairs = [(RESUMING_TAG, marker)];
            let pairs = &pairs;
            each(&listed, batch, |r| {
                async move {
                    self.0.tag(at, r, pairs).await?;
                    self.0.untag(at, r, &[STOPPED_AT_TAG, STOPPED_BY_TAG]).await
                }
                .boxed()
            })
            .await
        }
        .boxed()
    }

    fn start<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        batch: &'a [Target],
        answer: Answer<'a>,
    ) -> BoxFuture<'a, Vec<String>> {
        async move {
            let listed = self.0.list(at).await;
            let records: &[K::Record] = listed.as_ref().as_deref().unwrap_or_default();
            one_by_one(batch, answer, started, |t| async move {
                match find(records, t) {
                    Some(r) => self.0.start_one(at, r).await,
                    None => Outcome::Skipped("it no longer exists".into()),
                }
            })
            .await
        }
        .boxed()
    }

    fn clear_marker<'a>(
        &'a self,
        at: &'a InRegion<'a>,
        started: &'a [Target],
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        async move {
            let listed = self.0.list(at).await;
            let keys = self.0.cleared();
            each(&listed, started, |r| self.0.untag(at, r, keys)).await
        }
        .boxed()
    }

    fn running<'a>(
        &'a self,
        at: &'a InRegion<'a>,
    ) -> BoxFuture<'a, Result<Vec<Running>, AwsError>> {
        self.0.running(at)
    }
}
