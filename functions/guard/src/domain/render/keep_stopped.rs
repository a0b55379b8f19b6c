//! What keep-stopped's subscribers read: RDS restarted a database cost-guard
//! had stopped, and cost-guard stopped it again (or could not). Pure.

use std::fmt::Write as _;

use crate::domain::inventory::Resource;
use crate::domain::keep_stopped::ordinal;
use crate::domain::render::{res_line, subject_line, Message};
use crate::domain::tags::RESTOPS_TAG;

/// `stopped_by` is the original stamp's trigger; `account` the member
/// account the database is in (`None` for the guard's own); `failure` is set
/// when the stop again did not go through.
pub fn render(
    db: &Resource,
    region: &str,
    account: Option<&str>,
    restops: u32,
    stopped_by: &str,
    failure: Option<&str>,
    resume_function: Option<&str>,
) -> Message {
    let mut b = String::new();
    let place = match account {
        Some(a) => format!("{region} of account {a}"),
        None => region.to_string(),
    };
    let db_in = match account {
        Some(a) => format!("{} in account {a}", db.id),
        None => db.id.clone(),
    };
    let subject = match failure {
        None => format!(
            "RDS restarted {db_in} after 7 days stopped; cost-guard stopped it again ({} time)",
            ordinal(restops)
        ),
        Some(_) => format!(
            "URGENT: RDS restarted {db_in} after 7 days stopped, and cost-guard could not stop it again"
        ),
    };
    let _ = writeln!(
        b,
        "WHAT HAPPENED\nRDS starts a database by itself once it has been stopped for 7 days. It started\n  {}\nin {place}, which cost-guard had stopped ({stopped_by}).",
        res_line(db)
    );
    match failure {
        None => {
            let _ = writeln!(
                b,
                "cost-guard stopped it again: the {} time. It keeps its stamp, and {RESTOPS_TAG}={restops} counts the restarts.\nRDS will start it again in 7 days, and cost-guard will stop it again then.\n",
                ordinal(restops)
            );
        }
        Some(e) => {
            let _ = writeln!(
                b,
                "cost-guard could NOT stop it again: {e}\nIt is running and costing money. Lambda retries; if that fails too, stop it yourself{}:\n  aws rds stop-db-{} --region {region} --db-{}-identifier {}\n",
                account.map(|a| format!(" (with credentials in account {a})")).unwrap_or_default(),
                if db.kind == crate::domain::inventory::ResourceKind::DbCluster { "cluster" } else { "instance" },
                if db.kind == crate::domain::inventory::ResourceKind::DbCluster { "cluster" } else { "instance" },
                db.id
            );
        }
    }
    b.push_str("TO KEEP IT RUNNING INSTEAD\n");
    match resume_function {
        Some(function) => {
            let _ = writeln!(
                b,
                "Resume it: aws lambda invoke --function-name {function} --cli-binary-format raw-in-base64-out --payload '{{\"stopped_by\": \"{stopped_by}\"}}' /dev/stdout\n(resume takes the stamp off first, so this watch leaves it alone from then on)"
            );
        }
        None => b.push_str("Resume it with `cost-guard resume`; resume takes the stamp off first, so this watch leaves it alone from then on.\n"),
    }
    Message {
        subject: subject_line(&subject),
        body: b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inventory::ResourceKind;

    #[test]
    fn stopped_again_and_failed() {
        let db = Resource {
            kind: ResourceKind::DbInstance,
            id: "analytics-db".into(),
            name: None,
            size: "db.t3.medium".into(),
        };
        let m = render(
            &db,
            "us-east-1",
            None,
            2,
            "budget:monthly",
            None,
            Some("guard-resume"),
        );
        assert_eq!(
            m.subject,
            "RDS restarted analytics-db after 7 days stopped; cost-guard stopped it again (2nd time)"
        );
        assert!(m.body.contains("cost-guard:restops=2"));
        assert!(m.body.contains("--function-name guard-resume"));
        assert!(m.body.contains("\"stopped_by\": \"budget:monthly\""));
        let m = render(
            &db,
            "us-east-1",
            Some("222222222222"),
            1,
            "budget:monthly",
            Some("rds:StopDBInstance failed: AccessDenied"),
            None,
        );
        assert!(m
            .subject
            .starts_with("URGENT: RDS restarted analytics-db in account 222222222222 after"));
        assert!(m
            .body
            .contains("in us-east-1 of account 222222222222, which"));
        assert!(m
            .body
            .contains("yourself (with credentials in account 222222222222):"));
        assert!(m.body.contains(
            "aws rds stop-db-instance --region us-east-1 --db-instance-identifier analytics-db"
        ));
        assert!(m.body.contains("cost-guard resume"));
    }
}
