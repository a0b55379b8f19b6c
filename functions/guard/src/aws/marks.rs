//! The spot requests and fleets an untrusted principal made, as the tripwire
//! remembers them: one item per request in the guard's own DynamoDB table,
//! which only the tripwire's role may write. What such a request launches
//! later is stopped too, so the record must be one nobody else can write: a
//! tag on the request would be (anyone allowed to tag it could mark the
//! owner's own fleet and have its instances stopped).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;

use crate::domain::error::AwsError;

/// How long a request is remembered: longer than any spot request or fleet
/// an attacker would leave running unnoticed, short enough to clean itself up.
const KEEP_DAYS: i64 = 90;
/// Keys per `BatchGetItem`: the API's maximum.
const BATCH: usize = 100;

/// The table of marks, reached with the function's own credentials in its
/// own account and region, wherever the request is.
#[derive(Clone)]
pub(crate) struct Marks {
    client: Client,
    table: String,
}

/// A request's key: its account, region and id.
fn key(account: &str, region: &str, request: &str) -> String {
    format!("{account}/{region}/{request}")
}

impl Marks {
    pub(crate) fn new(sdk: &aws_types::SdkConfig, table: &str) -> Marks {
        Marks {
            client: Client::new(sdk),
            table: table.to_string(),
        }
    }

    /// The marks of these requests of `account` in `region`: request id and
    /// the mark's value.
    pub(crate) async fn get(
        &self,
        account: &str,
        region: &str,
        requests: &[String],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let mut found = BTreeMap::new();
        for chunk in requests.chunks(BATCH) {
            let mut keys = KeysAndAttributes::builder();
            for r in chunk {
                keys = keys.keys(
                    [(
                        "request".to_string(),
                        AttributeValue::S(key(account, region, r)),
                    )]
                    .into(),
                );
            }
            let keys = keys.consistent_read(true).build().map_err(|e| {
                AwsError::new("dynamodb:BatchGetItem", "InvalidRequest", e.to_string())
            })?;
            let mut pending = Some([(self.table.clone(), keys)].into());
            // Unprocessed keys come back to be asked again.
            for _ in 0..5 {
                let Some(asked) = pending.take() else { break };
                let out = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(asked))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("dynamodb:BatchGetItem", e))?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                    if let (Some(k), Some(value)) = (text("request"), text("mark")) {
                        if let Some(r) = chunk.iter().find(|r| k == key(account, region, r)) {
                            found.insert(r.clone(), value);
                        }
                    }
                }
                pending = out.unprocessed_keys().filter(|u| !u.is_empty()).cloned();
            }
            if pending.is_some() {
                return Err(AwsError::new(
                    "dynamodb:BatchGetItem",
                    "UnprocessedKeys",
                    "DynamoDB left keys unread after 5 tries",
                ));
            }
        }
        Ok(found)
    }

    /// Remembers these requests of `account` in `region` with `value`.
    pub(crate) async fn put(
        &self,
        account: &str,
        region: &str,
        requests: &[String],
        value: &str,
    ) -> Result<(), AwsError> {
        let expires = time::OffsetDateTime::now_utc().unix_timestamp() + KEEP_DAYS * 86_400;
        for r in requests {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("request", AttributeValue::S(key(account, region, r)))
                .item("mark", AttributeValue::S(value.to_string()))
                .item("expires", AttributeValue::N(expires.to_string()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("dynamodb:PutItem", e))?;
        }
        Ok(())
    }
}
