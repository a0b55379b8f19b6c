//! Publishing the report to the subscribers' topic.

use aws_sdk_sns::Client;

use crate::domain::error::AwsError;
use crate::domain::render::Message;

pub(crate) async fn publish(
    client: &Client,
    topic_arn: &str,
    message: &Message,
) -> Result<String, AwsError> {
    let out = client
        .publish()
        .topic_arn(topic_arn)
        .subject(&message.subject)
        .message(&message.body)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("sns:Publish", e))?;
    Ok(out.message_id().unwrap_or_default().to_string())
}

/// The subscribers' topic.
pub(crate) struct Notifier {
    sns: Client,
    topic_arn: String,
}

impl Notifier {
    pub(crate) fn new(sns: Client, topic_arn: &str) -> Self {
        Notifier {
            sns,
            topic_arn: topic_arn.to_string(),
        }
    }

    pub(crate) async fn publish(&self, message: &Message) -> Result<String, AwsError> {
        publish(&self.sns, &self.topic_arn, message).await
    }
}
